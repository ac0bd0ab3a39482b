"""Cost of GET /metrics's database-derived series and of the response report at N incidents.

Seeds N incidents (mixed types and severities, most resolved, with timeline transitions)
and one playbook run of six steps per incident, on SQLite and on PostgreSQL, then times
the database read behind a scrape (cache bypassed) and the report. Run: `make bench-metrics`
(or `.venv/bin/python bench/metrics_scrape.py --incidents 10000`).
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from defib.incidents.report import build_report
from defib.store import metrics as metrics_repo
from defib.store import migrate
from defib.store.database import Database
from defib.store.tables import incidents, playbook_run_steps, playbook_runs, timeline_events
from defib.telemetry import Telemetry

TYPES = ["hallucination", "toxicity", "data_leak", "performance", "availability", "bias"]
SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4"]
STEPS = [
    "disable_endpoint",
    "notify_team",
    "collect_evidence",
    "rollback_model",
    "verify_endpoint",
    "note",
]


def seed(db: Database, n: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    inc_rows, ev_rows, run_rows, step_rows = [], [], [], []
    for seq in range(1, n + 1):
        detected = now - timedelta(days=rng.uniform(0, 60))
        ack = detected + timedelta(seconds=rng.lognormvariate(5, 1))
        mit = ack + timedelta(seconds=rng.lognormvariate(6, 1))
        res = mit + timedelta(seconds=rng.lognormvariate(8, 1))
        status = "resolved" if seq % 10 else "detected"
        done = status == "resolved"
        inc_rows.append(
            {
                "seq": seq,
                "type": TYPES[seq % 6],
                "severity": SEVERITIES[seq % 4],
                "title": f"bench {seq}",
                "status": status,
                "affected_systems": [f"sys-{seq % 37}"],
                "labels": {},
                "fingerprint": f"fp{seq}",
                "alert_count": 1,
                "detected_at": detected,
                "acknowledged_at": ack if done else None,
                "mitigated_at": mit if done else None,
                "resolved_at": res if done else None,
                "reopen_count": 1 if seq % 50 == 0 else 0,
                "created_by": "bench",
                "updated_at": now,
            }
        )
        for to, at, actor in (
            ("acknowledged", ack, "alice"),
            ("mitigated", mit, "run:x"),
            ("resolved", res, "alice"),
        ):
            if done:
                ev_rows.append(
                    {
                        "incident_seq": seq,
                        "at": at,
                        "actor": actor,
                        "kind": "transition",
                        "data": {"to": to},
                    }
                )
        run_id = f"r{seq:019d}"
        run_rows.append(
            {
                "id": run_id, "incident_seq": seq, "playbook": TYPES[seq % 6], "playbook_version": "1",
                "playbook_digest": "d" * 64, "spec": {}, "status": "succeeded" if done else "running",
                "dry_run": False, "trigger": "incident_created", "created_by": "bench", "created_at": detected,
                "workflow_id": run_id, "updated_at": now,
            }
        )  # fmt: skip
        t = detected
        for i, action in enumerate(STEPS):
            took = timedelta(seconds=rng.lognormvariate(0, 1.5))
            step_rows.append(
                {
                    "run_id": run_id, "idx": i, "name": action, "action": action, "status": "succeeded",
                    "attempts": 1, "started_at": t, "ended_at": t + took, "updated_at": now,
                }
            )  # fmt: skip
            t += took
    with db.write() as conn:
        for table, rows in (
            (incidents, inc_rows),
            (timeline_events, ev_rows),
            (playbook_runs, run_rows),
            (playbook_run_steps, step_rows),
        ):
            for i in range(0, len(rows), 2000):
                conn.execute(insert(table), rows[i : i + 2000])


def timed(fn: object, repeat: int, cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds per call; this process's CPU milliseconds go to `cpu` (on a shared,
    loaded machine wall time mostly measures waiting for a core; SQLite's work is in-process
    CPU, PostgreSQL's is not)."""
    out = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
    return out


def bench(url: str, n: int, repeat: int) -> str:
    db = Database(url)
    migrate.upgrade(db)
    seed(db, n)
    telemetry = Telemetry(db, cache_seconds=0)
    cpu: list[float] = []
    scrape = timed(telemetry.render, repeat, cpu)
    size = len(telemetry.render())

    def report() -> None:
        with db.read() as conn:
            rows = metrics_repo.report_rows(conn, datetime.now(UTC) - timedelta(days=30))
        build_report(rows, since=None, now=datetime.now(UTC))

    rep = timed(report, max(3, repeat // 4))
    cached = Telemetry(db, cache_seconds=60)
    cached.render()
    hit = timed(cached.render, repeat)
    db.dispose()
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    return (
        f"{kind:10}  {n} incidents, {n * 6} steps: scrape (uncached) p50 {statistics.median(scrape):7.1f} ms"
        f" (CPU here {statistics.median(cpu):6.1f} ms)  max {max(scrape):7.1f} ms  ({size} bytes);"
        f"  cached {statistics.median(hit):5.2f} ms;"
        f"  report (30 d) p50 {statistics.median(rep):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="admin URL; a scratch database is created and dropped ('' to skip)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args.incidents, args.repeat))
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
        print(bench(args.pg.rsplit("/", 1)[0] + f"/{name}", args.incidents, args.repeat))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
