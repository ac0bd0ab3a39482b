"""The documented scale-out on one fresh PostgreSQL database: two `defib serve --no-worker`
replicas and two `defib worker` processes, each with its own data directory (issue 25).

Before: a worker kept evidence bytes on its own disk (both replicas answered verify with
"content is missing"), each process made its own signing key and console session secret,
and storm limits were counted per process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from defib.auth import Role, generate_token
from defib.clock import utcnow
from defib.store import migrate
from defib.store import tokens as token_repo
from defib.store.database import Database
from defib.store.tables import engine_heartbeats, evidence_keys
from defib.testing import ServerProcess
from tests.conftest import PG_ADMIN_URL
from tests.support.engine.procs import WorkerProcess

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

PER_SENDER = 3  # new incidents per sender and minute, across both replicas


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """A database of its own (not the session's, which other tests truncate)."""
    name = f"defib_replicas_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _leak(key: str) -> dict[str, Any]:
    return {
        "source": "guardrails",
        "type": "data_leak",
        "title": f"Customer e-mail in a reply ({key})",
        "systems": [f"chat-{key}"],
        "severity": "critical",
        "dedup_key": key,
    }


def _wait(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_two_replicas_and_two_workers_share_evidence_sessions_and_storm_limits(
    fresh_pg: str, tmp_path: Path
) -> None:
    db = Database(fresh_pg)
    migrate.upgrade(db)
    token = generate_token()
    with db.write() as conn:
        token_repo.create_token(
            conn, name="ops", role=Role.ADMIN, token=token, created_by="test", now=utcnow()
        )
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "leak.yaml").write_text(
        textwrap.dedent(
            """
            name: data_leak
            applies_to: [data_leak]
            steps:
              - name: preserve_evidence
                action: preserve_evidence
            """
        )
    )

    def env_for(name: str) -> dict[str, str]:
        home = tmp_path / name
        home.mkdir()
        return {
            "DEFIB_DATABASE_URL": fresh_pg,
            "DEFIB_HOME": str(home),
            "DEFIB_PLAYBOOKS_DIR": str(playbooks),
            "DEFIB_STORM": json.dumps({"max_new_incidents_per_source_per_minute": PER_SENDER}),
        }

    replicas = [
        ServerProcess(tmp_path / f"serve-{i}", env=env_for(f"serve-{i}"), args=("--no-worker",))
        for i in (1, 2)
    ]
    workers = [
        WorkerProcess(tmp_path / f"worker-{i}", env_for(f"worker-{i}"), name=f"worker-{i}")
        for i in (1, 2)
    ]
    try:
        for r in replicas:
            r.start(timeout=90)
        for w in workers:
            w.start(timeout=90)
        a, b = (httpx.Client(base_url=r.url, timeout=30.0) for r in replicas)
        auth = {"Authorization": f"Bearer {token}"}

        # Evidence a worker collects verifies from the other replica.
        sent = a.post("/api/v1/alerts/native", json=_leak("first"), headers=auth)
        assert sent.status_code == 202, sent.text
        incident = sent.json()["results"][0]["incident_id"]

        def finished() -> Any:
            runs = b.get(f"/api/v1/incidents/{incident}/runs", headers=auth).json()["items"]
            done = [r for r in runs if r["status"] not in ("pending", "running")]
            return done[0] if done else None

        run = _wait("the playbook run", finished)
        assert run["steps"][0]["status"] == "succeeded", run
        for client in (b, a):
            report = client.get(f"/api/v1/incidents/{incident}/evidence/verify", headers=auth)
            body = report.json()
            assert body["ok"] is True and body["items"] >= 2, body
            assert body["anchor"]["anchored_items"] == body["items"]
        for home in tmp_path.glob("*-[12]"):
            assert not list(home.glob("evidence/sha256/*/*")), f"evidence bytes on {home}"

        # Workers have distinct identities; each process's key is registered (public half).
        with db.read() as conn:
            executors = conn.execute(select(engine_heartbeats.c.executor_id)).scalars().all()
            keys = conn.execute(select(evidence_keys.c.key_id)).scalars().all()
        assert len(set(executors)) == 2, executors
        assert len(keys) >= 1

        # A console session made on one replica works on the other.
        form = a.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        signed = a.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/"})
        assert signed.status_code == 303, signed.text
        page = b.get(f"/incidents/{incident}", cookies=a.cookies)
        assert page.status_code == 200 and incident in page.text

        # A storm sent to both replicas respects one per-sender limit.
        for i in range(8):
            client = (a, b)[i % 2]
            reply = client.post("/api/v1/alerts/native", json=_leak(f"storm-{i}"), headers=auth)
            assert reply.status_code == 202, reply.text
        listed = a.get("/api/v1/incidents", params={"limit": 100}, headers=auth).json()["items"]
        opened = [i for i in listed if i["labels"].get("storm") != "true"]
        storms = [i for i in listed if i["labels"].get("storm") == "true"]
        # "first" counted against the same sender's minute: PER_SENDER incidents in all.
        assert len(opened) == PER_SENDER, [i["title"] for i in opened]
        assert len(storms) == 1
    finally:
        for w in workers:
            w.stop()
        for r in replicas:
            r.stop()
        db.dispose()
