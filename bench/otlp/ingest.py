"""Benchmark OTLP ingest: GenAI spans per second through `defib serve` with detection on.

Not a test. Builds GenAI spans with OpenTelemetry's own SDK (the current conventions: the
prompt and answer on `gen_ai.input.messages` / `gen_ai.output.messages`, one answer in ten
leaking personal data), encodes them with the SDK's OTLP encoder in batches, starts
`defib serve --no-gateway --no-worker` on SQLite pinned to one core (`taskset -c 0`), and
posts the batches over loopback as an OTLP/HTTP exporter would. A span counts as ingested
when its capture is written, i.e. after detection (PII with secrets, toxicity) ran on its
answer; the client keeps at most `--window` spans in flight so the server's post-processing
queue is never shed. Prints spans/s and the server's peak RSS.

    .venv/bin/python bench/otlp/ingest.py [--spans 20000] [--batch 256] [--window 4000]

With `--phoenix`, the same batches then go to Arize Phoenix's own OTLP ingest (`phoenix
serve` from bench/.venv-phoenix, pinned to the same core), counted once in its database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from defib.auth import Role, generate_token  # noqa: E402
from defib.bootstrap import Runtime  # noqa: E402
from defib.clock import utcnow  # noqa: E402
from defib.config import load_settings  # noqa: E402
from defib.store import tokens as token_repo  # noqa: E402
from defib.testing import defib_executable, free_port  # noqa: E402

CLEAN = (
    "Annual plans can be refunded within 30 days of purchase. After that, the remaining "
    "months are credited to your account and can be used for any other plan. Monthly plans "
    "are not refunded, but you can cancel at any time and keep access until the period ends."
)
LEAK = (
    "Sure. The customer on file is Jane Doe, e-mail jane.doe@example.com, phone "
    "+1 415 555 0132, SSN 123-45-6789."
)


def batches(spans: int, size: int) -> list[bytes]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    out = []
    for start in range(0, spans, size):
        kept = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "bench-bot"}))
        provider.add_span_processor(SimpleSpanProcessor(kept))
        tracer = provider.get_tracer("bench")
        for i in range(start, min(spans, start + size)):
            answer = LEAK if i % 10 == 0 else CLEAN
            span = tracer.start_span(
                "chat gpt-4o",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 20,
                    "gen_ai.usage.output_tokens": 60,
                    "gen_ai.response.finish_reasons": ["stop"],
                    "gen_ai.input.messages": orjson.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": f"Q{i}?"}]}]
                    ).decode(),
                    "gen_ai.output.messages": orjson.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [{"type": "text", "content": answer}],
                                "finish_reason": "stop",
                            }
                        ]
                    ).decode(),
                },
            )
            span.end()
        out.append(bytes(encode_spans(kept.get_finished_spans()).SerializeToString()))
        provider.shutdown()
    return out


def captured(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute("select count(*) from captures").fetchone()[0])


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


PHOENIX = ROOT / "bench" / ".venv-phoenix" / "bin" / "phoenix"


def phoenix(payloads: list[bytes], spans: int, batch: int, window: int) -> None:
    """The same spans into Arize Phoenix's own OTLP/HTTP ingest (its venv: `make phoenix-venv`,
    pinned, in bench/.venv-phoenix), counted once in its SQLite database."""
    tmp = Path(tempfile.mkdtemp(prefix="phoenix-bench-"))
    port = free_port()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(tmp),
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_HOST": "127.0.0.1",
    }
    server = subprocess.Popen(
        [*pin, str(PHOENIX), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Content-Type": "application/x-protobuf"},
            timeout=60,
        )
        for _ in range(600):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        db = tmp / "phoenix.db"

        def stored() -> int:
            try:
                with sqlite3.connect(db, timeout=30) as conn:
                    return int(conn.execute("select count(*) from spans").fetchone()[0])
            except sqlite3.OperationalError:
                return 0

        sent = 0
        start = time.perf_counter()
        for body in payloads:
            while sent - stored() > window:
                time.sleep(0.01)
            client.post("/v1/traces", content=body).raise_for_status()
            sent += batch
        while stored() < spans:
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        rss = peak_rss_kib(server.pid)
        client.close()
        print(
            f"phoenix stored {spans} spans in {elapsed:.2f} s: {spans / elapsed:.0f} spans/s "
            f"on one core; server peak RSS {rss / 1024:.0f} MiB"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def defib(payloads: list[bytes], args: argparse.Namespace, detect: list[str]) -> None:
    """The spans into `defib serve`, counted once captured (after detection)."""
    tmp = Path(tempfile.mkdtemp(prefix="defib-bench-otlp-"))
    try:
        config = tmp / "defib.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": str(tmp / "data"),
                    "max_body_bytes": 8 * 1024 * 1024,
                    "systems": [
                        {
                            "name": "bench-bot",
                            "gateway": {
                                "detect": detect,
                                "capture": {"mask_pii": not args.no_mask},
                            },
                        }
                    ],
                }
            ),
            encoding="utf-8",
        )
        runtime = Runtime(load_settings(config))
        token = generate_token()
        with runtime.db.write() as conn:
            token_repo.create_token(
                conn, name="bench", role=Role.INGEST, token=token, created_by="b", now=utcnow()
            )
        runtime.close()
        port = free_port()
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        server = subprocess.Popen(
            [*pin, defib_executable(), "serve", "--port", str(port), "--no-gateway", "--no-worker"],
            env={**os.environ, "DEFIB_CONFIG": str(config)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"},
            timeout=60,
        )
        for _ in range(300):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        db = tmp / "data" / "defib.db"
        sent = 0
        start = time.perf_counter()
        for body in payloads:
            while sent - captured(db) > args.window:
                time.sleep(0.01)
            answer = client.post("/v1/traces", content=body)
            answer.raise_for_status()
            sent += args.batch
        sent = args.spans
        while captured(db) < sent:
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        rss = peak_rss_kib(server.pid)
        client.close()
        server.terminate()
        server.wait(timeout=30)
        print(
            f"ingested {sent} GenAI spans (detect={detect}, masked={not args.no_mask}) in "
            f"{elapsed:.2f} s: "
            f"{sent / elapsed:.0f} spans/s on one core; server peak RSS {rss / 1024:.0f} MiB"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--window", type=int, default=4_000)
    parser.add_argument(
        "--detect",
        default="pii,toxicity",
        help="inline detectors ('' for none: the receiver's own cost)",
    )
    parser.add_argument("--no-mask", action="store_true", help="store captures unmasked")
    parser.add_argument(
        "--phoenix", action="store_true", help="also run Arize Phoenix's ingest on the same spans"
    )
    args = parser.parse_args()
    detect = [d for d in args.detect.split(",") if d]

    payloads = batches(args.spans, args.batch)
    size = sum(len(p) for p in payloads)
    print(
        f"{args.spans} spans in {len(payloads)} batches, {size / len(payloads) / 1024:.0f} KiB each"
    )

    defib(payloads, args, detect)
    if args.phoenix:
        phoenix(payloads, args.spans, args.batch, args.window)


if __name__ == "__main__":
    main()
