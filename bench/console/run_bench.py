"""Benchmark the console: server render time of the incident list with 10,000 incidents.

Not a test. Fills a fresh database (SQLite, and PostgreSQL if reachable) with incidents
(a few hundred open, the rest resolved or closed, over six systems), signs in once, then
times whole GET requests of the list through the app in-process (no network): the first
page, a page deep into the closed ones (by cursor), and filtered views. Prints p50 / p95
per view and backend. Goal: p95 under 200 ms.

    .venv/bin/python bench/console/run_bench.py [--incidents 10000] [--repeat 30] [--pg URL]
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, text

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.config import load_settings
from defib.model import IncidentType, Severity, Status
from defib.store import tokens as token_repo
from defib.store.tables import incidents

SYSTEMS = ["chat-api", "search-rag", "support-bot", "ranker", "summariser", "vision"]
GOAL_MS = 200.0


def fill(runtime: Runtime, n: int) -> None:
    """n incidents in one transaction; every 25th open, the rest resolved or closed."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    types, severities = list(IncidentType), list(Severity)
    rows = []
    for i in range(n):
        at = start + timedelta(minutes=7 * i)
        status = Status.DETECTED if i % 25 == 0 else (Status.CLOSED if i % 2 else Status.RESOLVED)
        done = at + timedelta(hours=1) if status is not Status.DETECTED else None
        rows.append(
            {
                "type": types[i % len(types)].value,
                "severity": severities[i % len(severities)].value,
                "title": f"bench incident {i}: {types[i % len(types)].value} on {SYSTEMS[i % 6]}",
                "description": "",
                "status": status.value,
                "affected_systems": [SYSTEMS[i % 6]],
                "labels": {},
                "fingerprint": None,
                "alert_count": 1 + i % 7,
                "detected_at": at,
                "acknowledged_at": done,
                "mitigated_at": done,
                "resolved_at": done,
                "closed_at": done if status is Status.CLOSED else None,
                "reopen_count": 0,
                "created_by": "bench",
                "updated_at": at,
            }
        )
    with runtime.db.write() as conn:
        for chunk in range(0, n, 1000):
            conn.execute(insert(incidents), rows[chunk : chunk + 1000])


def signed_in(runtime: Runtime) -> TestClient:
    token = generate_token()
    with runtime.db.write() as conn:
        token_repo.create_token(
            conn,
            name="bench",
            role=Role.VIEWER,
            token=token,
            created_by="bench",
            now=datetime.now(UTC),
        )
    client = TestClient(create_app(runtime), follow_redirects=False)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    response = client.post("/login", data={"token": token, "csrf": csrf.group(1)})
    assert response.status_code == 303, response.text
    return client


def deep_cursor(client: TestClient, pages: int) -> str:
    """Follow "Older incidents" `pages` times; return that page's URL."""
    url = "/"
    for _ in range(pages):
        found = re.search(r'href="(/\?[^"]*cursor=[^"]+)" rel="next"', client.get(url).text)
        assert found, "ran out of pages"
        url = found.group(1).replace("&amp;", "&")
    return url


def time_view(client: TestClient, url: str, repeat: int) -> tuple[float, float, int]:
    client.get(url)  # warm: templates compiled, connections open
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.status_code
    rows = response.text.count('<tr class="')
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], rows


def bench(label: str, database_url: str, n: int, repeat: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            data_dir=Path(tmp),
            database_url=database_url,
            gateway={"embedded": False},
        )
        runtime = Runtime(settings)
        try:
            t0 = time.perf_counter()
            fill(runtime, n)
            print(f"[{label}] {n} incidents inserted in {time.perf_counter() - t0:.1f} s")
            client = signed_in(runtime)
            views = {
                "first page (open first)": "/",
                "page 40 (closed, by cursor)": deep_cursor(client, 40),
                "status=closed": "/?status=closed",
                "severity=SEV1": "/?severity=SEV1",
                "system=vision": "/?system=vision",
                "type=bias&system=ranker (no match)": "/?type=bias&system=ranker",
                "live fragment": "/fragments/incidents",
            }
            ok = True
            for name, url in views.items():
                p50, p95, rows = time_view(client, url, repeat)
                met = p95 < GOAL_MS
                ok &= met
                print(
                    f"[{label}] {name:38s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                    f"rows {rows:3d}  {'ok' if met else 'OVER GOAL'}"
                )
            client.close()
            return ok
        finally:
            runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.incidents, args.repeat)
    name = f"defib_console_bench_{secrets.token_hex(3)}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"[postgresql] skipped: {exc.__class__.__name__}")
        return 0 if ok else 1
    try:
        ok &= bench(
            "postgresql", args.pg.rsplit("/", 1)[0] + f"/{name}", args.incidents, args.repeat
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
