"""Benchmark the playbook engine: runs per second, and alert -> first step started latency.

Not a test. Runs an in-process worker (as `defib serve` embeds one) on SQLite and, if it
is reachable, PostgreSQL, with a three-step playbook of `note` steps (engine overhead,
no network), and prints one line per backend.

    .venv/bin/python bench/playbooks/run_bench.py [--runs 300] [--latency 100] [--pg URL]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text

PLAYBOOK = """
name: bench
applies_to: [hallucination, toxicity, data_leak, performance, availability, bias]
steps:
  - {name: one, action: note, params: {text: "one {{ incident.id }}"}}
  - {name: two, action: note, params: {text: "two"}}
  - {name: three, action: note, params: {text: "three"}}
"""


def alert(i: int, tag: str) -> dict[str, object]:
    return {
        "source": "bench",
        "type": "toxicity",
        "title": f"bench {tag} {i}",
        "systems": [f"sys-{tag}-{i}"],
        "severity": "high",
        "dedup_key": f"{tag}-{i}",
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def bench(url: str, workdir: Path, runs: int, latency_n: int) -> str:
    from defib.bootstrap import Runtime
    from defib.config import load_settings
    from defib.playbooks.engine.worker import Worker
    from defib.playbooks.runs import TERMINAL_STATUSES
    from defib.store.tables import playbook_runs

    rt = Runtime(load_settings(None, data_dir=workdir, database_url=url))
    terminal = [s.value for s in TERMINAL_STATUSES]

    def left() -> int:
        with rt.db.read() as conn:
            return len(
                conn.execute(
                    playbook_runs.select()
                    .with_only_columns(playbook_runs.c.id)
                    .where(playbook_runs.c.status.not_in(terminal))
                ).all()
            )

    # Throughput of the engine alone: runs queued while no worker runs, then drained.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: rt.intake.ingest(alert(i, "tp"), None, "bench"), range(runs)))
    worker = Worker(rt.engine, executor_id=f"bench-{secrets.token_hex(3)}").start()
    try:
        t0 = time.monotonic()
        while left():
            time.sleep(0.05)
        elapsed = time.monotonic() - t0

        # Latency: one alert at a time, a little apart (an unloaded engine), through intake.
        lat: list[float] = []
        for i in range(latency_n):
            t0w = time.time()
            (result,) = rt.intake.ingest(alert(i, "lat"), None, "bench")
            assert result.incident_id is not None
            seq = int(result.incident_id.split("-")[1])
            deadline = time.monotonic() + 10
            started = None
            while time.monotonic() < deadline:
                with rt.db.read() as conn:
                    started = conn.execute(
                        text(
                            "SELECT s.started_at FROM playbook_run_steps s "
                            "JOIN playbook_runs r ON r.id = s.run_id "
                            "WHERE r.incident_seq = :seq AND s.idx = 0"
                        ),
                        {"seq": seq},
                    ).scalar()
                if started is not None:
                    break
                time.sleep(0.002)
            if isinstance(started, str):
                started = datetime.fromisoformat(started)
            assert started is not None
            lat.append((started.timestamp() - t0w) * 1000)
            time.sleep(0.05)
    finally:
        worker.stop()
        rt.close()
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    return (
        f"{kind:10}  {runs / elapsed:6.1f} runs/s ({runs} three-step runs in {elapsed:.1f}s)"
        f"  alert->first step p50 {statistics.median(lat):6.1f} ms  "
        f"p99 {percentile(lat, 99):6.1f} ms  (n={len(lat)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="admin URL; a scratch database is created and dropped ('' to skip)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        playbooks = Path(tmp) / "playbooks"
        playbooks.mkdir()
        (playbooks / "bench.yaml").write_text(PLAYBOOK)
        os.environ["DEFIB_PLAYBOOKS_DIR"] = str(playbooks)
        print(bench(f"sqlite:///{tmp}/bench.db", Path(tmp) / "sqlite", args.runs, args.latency))
        sys.stdout.flush()
        if not args.pg:
            return
        name = f"defib_bench_{secrets.token_hex(3)}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            print(f"postgresql  skipped: {exc}")
            return
        try:
            url = args.pg.rsplit("/", 1)[0] + f"/{name}"
            print(bench(url, Path(tmp) / "pg", args.runs, args.latency))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
