"""Benchmark the playbook engine: runs per second, and alert -> first step started latency,
side by side with bare DBOS running the same three-step workflows queued.

Not a test. Runs an in-process worker (as `defib serve` embeds one) on SQLite and, if it
is reachable, PostgreSQL, with a three-step playbook of `note` steps (engine overhead,
no network); then, in a process of its own (DBOS is one per process), `bare_dbos.py` on a
fresh database of the same kind. Prints one line per system and backend, the ratio of
runs/s (defib / bare DBOS), and the load average at each measurement (the machine may be
shared: figures taken under a higher load are not comparable).

    .venv/bin/python bench/playbooks/run_bench.py [--runs 300] [--latency 100] [--pg URL]
        [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
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


def load_average() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


@dataclass
class Figures:
    runs_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    load_before: str
    load_after: str

    def line(self, who: str, kind: str) -> str:
        latency = (
            f"first step p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms"
            if self.p50_ms is not None and self.p99_ms is not None
            else "first step n/a"
        )
        return (
            f"{who:9} {kind:10}  {self.runs_per_second:6.1f} runs/s  {latency}"
            f"  [{self.load_before} -> {self.load_after}]"
        )


def bench(url: str, workdir: Path, runs: int, latency_n: int) -> Figures:
    from defib.bootstrap import Runtime
    from defib.config import load_settings
    from defib.playbooks.engine.worker import Worker
    from defib.playbooks.runs import TERMINAL_STATUSES
    from defib.store.tables import playbook_runs

    load_before = load_average()
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
    return Figures(
        runs / elapsed, statistics.median(lat), percentile(lat, 99), load_before, load_average()
    )


def bare_dbos(url: str, runs: int, latency_n: int) -> Figures:
    """The peer, in a process of its own (DBOS is one per process)."""
    load_before = load_average()
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("bare_dbos.py")),
            "--url",
            url,
            "--runs",
            str(runs),
            "--latency",
            str(latency_n),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return Figures(
        got["runs_per_second"],
        got["first_step_p50_ms"],
        got["first_step_p99_ms"],
        load_before,
        load_average(),
    )


@contextmanager
def scratch_pg(admin_url: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database (dropped after), or None when the server is unreachable."""
    name = f"defib_bench_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"postgresql  skipped: {exc}")
        admin.dispose()
        yield None
        return
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def compare(kind: str, ours: Callable[[], Figures], peer: Callable[[], Figures] | None) -> None:
    mine = ours()
    print(mine.line("defib", kind))
    sys.stdout.flush()
    if peer is None:
        return
    theirs = peer()
    print(theirs.line("bare-dbos", kind))
    print(
        f"ratio     {kind:10}  {mine.runs_per_second / theirs.runs_per_second:5.2f}x bare DBOS"
        " runs/s (goal >= 0.8x)"
    )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="admin URL; a scratch database is created and dropped ('' to skip)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the bare-DBOS peer")
    args = parser.parse_args()
    n, lat = args.runs, args.latency
    with tempfile.TemporaryDirectory() as tmp:
        playbooks = Path(tmp) / "playbooks"
        playbooks.mkdir()
        (playbooks / "bench.yaml").write_text(PLAYBOOK)
        os.environ["DEFIB_PLAYBOOKS_DIR"] = str(playbooks)
        compare(
            "sqlite",
            lambda: bench(f"sqlite:///{tmp}/bench.db", Path(tmp) / "sqlite", n, lat),
            None if args.no_peer else lambda: bare_dbos(f"sqlite:///{tmp}/bare.db", n, lat),
        )
        if not args.pg:
            return
        with scratch_pg(args.pg) as url:
            if url is None:
                return
            with scratch_pg(args.pg) as bare_url:
                peer = None
                if not args.no_peer and bare_url is not None:
                    peer_url = bare_url

                    def peer() -> Figures:
                        return bare_dbos(peer_url, n, lat)

                compare("postgresql", lambda: bench(url, Path(tmp) / "pg", n, lat), peer)


if __name__ == "__main__":
    main()
