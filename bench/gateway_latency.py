"""Benchmark the gateway: latency it adds over calling the model directly (loopback).

Not a test. Starts the demo model (`python -m defib.gateway.demo_upstream`) and
`defib gateway` as separate processes on SQLite, then sends non-streaming chat completions
one at a time, alternating direct and through the gateway so both see the same machine
state, for three systems (see SYSTEMS): the bare proxy, with capture, and with capture
and inline detection (a `defib_context` is sent so grounding runs). Prints p50/p99 per
path and the difference.

    .venv/bin/python bench/gateway_latency.py [--requests 2000] [--warmup 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from defib.testing import defib_executable, free_port  # noqa: E402

PROMPT = "Tell me about the refund policy for annual plans, please."
CONTEXT = "Refunds are accepted within 30 days of purchase for annual plans."


# What each run measures: the proxy alone; plus capture (masked, written in batches);
# plus inline detection (PII, toxicity, grounding against the request's context).
SYSTEMS: dict[str, dict[str, object]] = {
    "bare": {"detect": [], "capture": {"sample_rate": 0}},
    "captured": {"detect": [], "capture": {"sample_rate": 1}},
    "inspected": {"detect": ["pii", "toxicity", "grounding"], "capture": {"sample_rate": 1}},
}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited early")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def timed(client: httpx.Client, url: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    response = client.post(url, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.text[:200]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="per path and system")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="defib-bench-gateway-"))
    up_port, gw_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}/v1"
    versions = [{"name": "v1", "upstream": upstream, "model": "demo-v1"}]
    config = {
        "data_dir": str(work / "data"),
        "log_level": "warning",
        # The bench measures the proxy, not key checks: anonymous callers allowed.
        "gateway": {"port": gw_port, "allow_anonymous": True},
        "systems": [
            {"name": name, "versions": versions, "gateway": gateway}
            for name, gateway in SYSTEMS.items()
        ],
    }
    (work / "defib.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = (work / "processes.log").open("ab")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "defib.gateway.demo_upstream", "--port", str(up_port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [defib_executable(), "gateway", "-c", str(work / "defib.yaml")],
            env=env,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        wait_ready(f"{upstream}/models", procs[0])
        wait_ready(f"http://127.0.0.1:{gw_port}/healthz", procs[1])
        body = {
            "model": "demo-v1",
            "messages": [{"role": "user", "content": PROMPT}],
            "defib_context": CONTEXT,
        }
        direct_body = {k: v for k, v in body.items() if k != "defib_context"}
        with httpx.Client(timeout=30) as direct, httpx.Client(timeout=30) as via:
            print(f"gateway latency bench: {args.requests} requests per path, sequential, loopback")
            print(
                f"{'system':<10} {'direct p50':>10} {'p99':>7} {'gateway p50':>12} {'p99':>7} "
                f"{'added p50':>10} {'added p99':>10}"
            )
            for name in SYSTEMS:
                gw_url = f"http://127.0.0.1:{gw_port}/systems/{name}/v1/chat/completions"
                for _ in range(args.warmup):
                    timed(direct, f"{upstream}/chat/completions", direct_body)
                    timed(via, gw_url, body)
                d: list[float] = []
                g: list[float] = []
                for _ in range(args.requests):
                    d.append(timed(direct, f"{upstream}/chat/completions", direct_body))
                    g.append(timed(via, gw_url, body))
                dp50, dp99 = percentile(d, 50), percentile(d, 99)
                gp50, gp99 = percentile(g, 50), percentile(g, 99)
                print(
                    f"{name:<10} {dp50:>8.2f}ms {dp99:>5.2f}ms {gp50:>10.2f}ms {gp99:>5.2f}ms "
                    f"{gp50 - dp50:>8.2f}ms {gp99 - dp99:>8.2f}ms"
                )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
