"""Benchmark the gateway: latency it adds over calling the model directly (loopback).

Not a test. Starts the demo model (`python -m defib.gateway.demo_upstream`), `defib gateway`
(on SQLite) and, as a peer, LiteLLM's proxy (from bench/.venv-litellm, `make litellm-venv`)
as separate processes, then sends non-streaming chat completions one at a time in rounds,
each round one direct call to the model and one through every path, in two phases of the
same run: defib's three systems (see SYSTEMS), then LiteLLM, each phase against its own
direct calls (LiteLLM's own work slowed the calls after it; see main). Prints one table of
p50/p99 per path and what each adds, and defib's added p50 as a ratio of LiteLLM's.

    .venv/bin/python bench/gateway_latency.py [--requests 1000] [--warmup 100]
        [--no-litellm | --require-litellm]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from defib.testing import defib_executable, free_port  # noqa: E402

LITELLM_VENV = ROOT / "bench" / ".venv-litellm"
PROMPT = "Tell me about the refund policy for annual plans, please."
CONTEXT = "Refunds are accepted within 30 days of purchase for annual plans."


# What each run measures: the proxy alone; plus capture (masked, written in batches);
# plus inline detection (PII with secrets, toxicity, grounding against the request's context).
SYSTEMS: dict[str, dict[str, object]] = {
    "bare": {"detect": [], "capture": {"sample_rate": 0}},
    "captured": {"detect": [], "capture": {"sample_rate": 1}},
    "inspected": {
        "detect": ["pii", "toxicity", "grounding"],
        "capture": {"sample_rate": 1},
    },
}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0, probe: float = 1.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited early")
        try:
            httpx.get(url, timeout=probe)
            return
        except httpx.HTTPError:
            time.sleep(0.25)
    raise SystemExit(f"{url} did not come up")


def timed(client: httpx.Client, url: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    response = client.post(url, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.text[:200]}")
    return elapsed


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def litellm_proxy(
    work: Path, upstream: str, log: IO[bytes]
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start LiteLLM's proxy with one model entry on the demo upstream; (process, url, version)."""
    port = free_port()
    config = {
        "model_list": [
            {
                "model_name": "demo-v1",
                "litellm_params": {"model": "openai/demo-v1", "api_base": upstream, "api_key": "x"},
            }
        ],
        # No callbacks, no alerting, no database (no DATABASE_URL) and no master key: the
        # proxy alone, as defib's gateway runs here with anonymous callers. Without a master
        # key LiteLLM refuses to start unless told this is on purpose.
        "general_settings": {"dangerously_permit_weak_or_unset_master_key": True},
    }
    (work / "litellm.yaml").write_text(yaml.safe_dump(config))
    # A master key or database from the caller's environment would add key checks and spend
    # writes; the model cost map comes from the package (offline), and WARNING drops the
    # per-request access log as defib's log_level does.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("LITELLM_") and k != "DATABASE_URL"
    }
    env |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "WARNING"}
    version = subprocess.run(
        [
            str(LITELLM_VENV / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    process = subprocess.Popen(
        [
            str(LITELLM_VENV / "bin" / "litellm"),
            "--config",
            str(work / "litellm.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=work,  # away from any .env file LiteLLM would load
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}", version or "?"


def options() -> tuple[argparse.Namespace, bool]:
    """The command line, and whether LiteLLM takes part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1000, help="rounds (requests per path)")
    parser.add_argument("--warmup", type=int, default=100, help="rounds before measuring")
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument("--no-litellm", action="store_true", help="defib's paths only")
    peer.add_argument(
        "--require-litellm", action="store_true", help="fail instead of skipping LiteLLM"
    )
    args = parser.parse_args()
    if args.no_litellm:
        return args, False
    if not (LITELLM_VENV / "bin" / "litellm").exists():
        message = f"LiteLLM's proxy is not installed in {LITELLM_VENV}: `make litellm-venv`"
        if args.require_litellm:
            raise SystemExit(message)
        print(f"{message}; measuring defib alone", file=sys.stderr)
        return args, False
    return args, True


def write_defib_config(work: Path, gw_port: int, upstream: str) -> Path:
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
    path = work / "defib.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main() -> None:
    args, with_litellm = options()
    work = Path(tempfile.mkdtemp(prefix="defib-bench-gateway-"))
    up_port, gw_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}/v1"
    defib_config = write_defib_config(work, gw_port, upstream)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    with (work / "processes.log").open("ab") as log:
        try:
            # All three start at once: LiteLLM's imports (30 s and more on a loaded machine)
            # overlap the others' start.
            started = time.monotonic()
            if with_litellm:
                litellm, litellm_url, litellm_version = litellm_proxy(work, upstream, log)
                procs.append(litellm)
            model = subprocess.Popen(
                [sys.executable, "-m", "defib.gateway.demo_upstream", "--port", str(up_port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            procs.append(model)
            gateway = subprocess.Popen(
                [defib_executable(), "gateway", "-c", str(defib_config)],
                env=env,
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            procs.append(gateway)
            wait_ready(f"{upstream}/models", model)
            wait_ready(f"http://127.0.0.1:{gw_port}/healthz", gateway)
            if with_litellm:
                wait_ready(f"{litellm_url}/health/liveliness", litellm, timeout=300, probe=30)
                litellm_ready = time.monotonic() - started
                litellm_cpu = cpu_seconds(litellm.pid)
            print(
                f"gateway latency bench: {args.requests} rounds after {args.warmup} warm-up, "
                f"each one direct call then one per path, sequential, loopback"
            )
            # Two phases, defib's systems then LiteLLM, each against its own direct calls:
            # with LiteLLM in defib's rounds, the calls after each LiteLLM call ran 2-4 ms
            # slower on this 2-core machine (LiteLLM spends ~15 ms of CPU per request).
            paths = {
                name: f"http://127.0.0.1:{gw_port}/systems/{name}/v1/chat/completions"
                for name in SYSTEMS
            }
            phases = [measure(args.requests, args.warmup, upstream, paths)]
            if with_litellm:
                # What an idle LiteLLM took from the machine while defib was measured.
                litellm_cpu = cpu_seconds(litellm.pid) - litellm_cpu
                litellm_paths = {"litellm": f"{litellm_url}/v1/chat/completions"}
                phases.append(measure(args.requests, args.warmup, upstream, litellm_paths))
            report(phases)
            if with_litellm:
                print(
                    f"litellm: LiteLLM {litellm_version} proxy, one model entry, no callbacks; "
                    f"up in {litellm_ready:.0f} s; idle, it used {litellm_cpu:.2f} s CPU during "
                    f"defib's phase"
                )
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def measure(
    requests: int, warmup: int, upstream: str, paths: dict[str, str]
) -> dict[str, list[float]]:
    """Rounds of one direct call then one call per path; each path's timings (ms)."""
    body: dict[str, object] = {
        "model": "demo-v1",
        "messages": [{"role": "user", "content": PROMPT}],
        "defib_context": CONTEXT,
    }
    # The direct call and LiteLLM get the request without defib's extension field.
    plain = {k: v for k, v in body.items() if k != "defib_context"}
    targets = {"direct": (f"{upstream}/chat/completions", plain)} | {
        name: (url, plain if name == "litellm" else body) for name, url in paths.items()
    }
    clients = {name: httpx.Client(timeout=30) for name in targets}
    samples: dict[str, list[float]] = {name: [] for name in targets}
    try:
        for i in range(warmup + requests):
            for name, (url, payload) in targets.items():
                elapsed = timed(clients[name], url, payload)
                if i >= warmup:
                    samples[name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return samples


def report(phases: list[dict[str, list[float]]]) -> None:
    """One table: each path against the direct calls of its own phase, then the ratios."""
    print(
        f"{'path':<10} {'direct p50':>10} {'p99':>8} {'path p50':>9} {'p99':>8} "
        f"{'added p50':>10} {'added p99':>10}"
    )
    added: dict[str, float] = {}
    for samples in phases:
        dp50, dp99 = percentile(samples["direct"], 50), percentile(samples["direct"], 99)
        for name, values in samples.items():
            if name == "direct":
                continue
            p50, p99 = percentile(values, 50), percentile(values, 99)
            added[name] = p50 - dp50
            print(
                f"{name:<10} {dp50:>8.2f}ms {dp99:>6.2f}ms {p50:>7.2f}ms {p99:>6.2f}ms "
                f"{p50 - dp50:>8.2f}ms {p99 - dp99:>8.2f}ms"
            )
    if "litellm" in added:
        base = added["litellm"]
        ratios = ", ".join(
            f"{name} {added[name] / base:.3f}x" if base > 0 else f"{name} n/a" for name in SYSTEMS
        )
        print(f"defib added p50 / LiteLLM added p50: {ratios}")


if __name__ == "__main__":
    main()
