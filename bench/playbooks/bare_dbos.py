"""The bare-DBOS peer of `run_bench.py`: the same three-step workflows, queued, on DBOS alone.

Not a test. Each workflow runs three DBOS steps, and each step writes one row to an
application table (what a `note` step of the engine's bench playbook does: one timeline
row); the engine adds its own bookkeeping (run and step rows, events) around the same
steps, and that overhead is what the ratio measures. DBOS is configured as the engine
configures it: the same system database layout (a sibling SQLite file in WAL mode, or
PostgreSQL's `dbos` schema), a pinned application version, the queue's worker concurrency
and polling interval. DBOS is one per process, so `run_bench.py` runs this in a process
of its own; it prints one JSON line.

    .venv/bin/python bench/playbooks/bare_dbos.py --url URL [--runs 300] [--latency 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSClient, EnqueueOptions

from defib.config import EngineSettings
from defib.playbooks.engine.host import dbos_system_url, sqlite_system_engine

QUEUE = "bare-runs"
WORKFLOW = "bare.three_steps"
VERSION = "bare-1"

metadata = sa.MetaData()
notes = sa.Table(
    "bench_bare_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("text", sa.String(40), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)


class _App:
    engine: sa.Engine | None = None


app = _App()


def _note(n: int, text: str) -> None:
    assert app.engine is not None
    with app.engine.begin() as conn:
        conn.execute(notes.insert().values(n=n, text=text, at=time.time()))


@DBOS.workflow(name=WORKFLOW)
def three_steps(n: int) -> None:
    for text in ("one", "two", "three"):
        DBOS.run_step({"name": text}, _note, n, text)


def app_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=30000")
            dbapi_conn.execute("PRAGMA synchronous=FULL")

        return engine
    return sa.create_engine(url, pool_size=20, max_overflow=20)


def count(engine: sa.Engine, text: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(notes).where(notes.c.text == text)
            ).scalar_one()
        )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the application database (as defib's)")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--latency", type=int, default=100)
    args = parser.parse_args()
    tuning = EngineSettings()  # the engine's defaults: poll interval, concurrency
    system_url = dbos_system_url(args.url)
    sqlite = args.url.startswith("sqlite")
    app.engine = app_engine(args.url)
    metadata.create_all(app.engine)
    options = EnqueueOptions(queue_name=QUEUE, workflow_name=WORKFLOW, app_version=VERSION)

    # Throughput: every run queued while no worker runs, then drained (as run_bench does).
    DBOS.migrate(system_url)
    client = (
        DBOSClient(system_database_engine=sqlite_system_engine(system_url))
        if sqlite
        else DBOSClient(system_database_url=system_url)
    )
    for n in range(args.runs):
        client.enqueue(options, n)
    client.destroy()
    config: dict[str, Any] = {
        "name": "defib-bench-bare",
        "system_database_url": system_url,
        "application_version": VERSION,
        "executor_id": "bare",
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": tuning.poll_seconds,
    }
    if sqlite:
        config["system_database_engine"] = sqlite_system_engine(system_url)
    DBOS(config=config)  # type: ignore[arg-type]
    t0 = time.monotonic()
    DBOS.launch()
    DBOS.register_queue(
        QUEUE,
        worker_concurrency=tuning.concurrency,
        polling_interval_sec=tuning.poll_seconds,
        on_conflict="always_update",
    )
    while count(app.engine, "three") < args.runs:
        time.sleep(0.05)
    elapsed = time.monotonic() - t0

    # Latency: one enqueue at a time, a little apart, to its first step's row.
    lat: list[float] = []
    for i in range(args.latency):
        n = args.runs + i
        t0w = time.time()
        DBOS.enqueue_workflow_with_options(options, n)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with app.engine.connect() as conn:
                at = conn.execute(
                    sa.select(notes.c.at).where(notes.c.n == n, notes.c.text == "one")
                ).scalar()
            if at is not None:
                lat.append((at - t0w) * 1000)
                break
            time.sleep(0.002)
        time.sleep(0.05)
    DBOS.destroy(workflow_completion_timeout_sec=0)
    print(
        json.dumps(
            {
                "runs_per_second": args.runs / elapsed,
                "runs": args.runs,
                "seconds": elapsed,
                "first_step_p50_ms": statistics.median(lat) if lat else None,
                "first_step_p99_ms": percentile(lat, 99) if lat else None,
                "latency_n": len(lat),
            }
        )
    )


if __name__ == "__main__":
    main()
