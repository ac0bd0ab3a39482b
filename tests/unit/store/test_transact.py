"""A write transaction PostgreSQL rolls back as a deadlock or serialization loser runs again
(issue 25: a deadlock answered 500 on `POST /incidents/{id}/runs`, other writes 503).
Provoked for real: two connections locking two rows in opposite orders, and a REPEATABLE
READ update of a row another connection changed; bounded, and only for those SQLSTATEs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from defib.store.database import Database


def test_a_deadlock_loser_is_run_again(pg_url: str) -> None:
    """The transaction that loses the deadlock is retried and commits; the winner too."""
    db = Database(pg_url)
    other = Database(pg_url)
    try:
        with db.write() as conn:
            conn.execute(text("DROP TABLE IF EXISTS deadlock_probe"))
            conn.execute(text("CREATE TABLE deadlock_probe (id int primary key, v int)"))
            conn.execute(text("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)"))
        mine_locked, theirs_locked = threading.Event(), threading.Event()
        calls: list[int] = []

        def work(conn: Connection) -> str:
            calls.append(1)
            conn.execute(text("UPDATE deadlock_probe SET v = v + 1 WHERE id = 1"))
            mine_locked.set()
            theirs_locked.wait(10)
            # Waits on row 2 first, so PostgreSQL's deadlock check fires here: this loses.
            conn.execute(text("UPDATE deadlock_probe SET v = v + 1 WHERE id = 2"))
            return "done"

        def theirs() -> None:
            with other.write() as conn:
                conn.execute(text("UPDATE deadlock_probe SET v = v + 10 WHERE id = 2"))
                mine_locked.wait(10)
                theirs_locked.set()
                threading.Event().wait(0.3)  # let `work` start waiting first
                conn.execute(text("UPDATE deadlock_probe SET v = v + 10 WHERE id = 1"))

        thread = threading.Thread(target=theirs)
        thread.start()
        assert db.transact(work) == "done"
        thread.join(10)
        assert len(calls) == 2  # lost once, then committed
        with db.read() as conn:
            rows = dict(conn.execute(text("SELECT id, v FROM deadlock_probe")).all())
        assert rows == {1: 11, 2: 11}
    finally:
        with db.write() as conn:
            conn.execute(text("DROP TABLE IF EXISTS deadlock_probe"))
        db.dispose()
        other.dispose()


def test_a_serialization_failure_is_run_again(pg_url: str) -> None:
    """40001 (a REPEATABLE READ transaction updating a row another one changed since its
    snapshot) is retried like a deadlock: the second attempt sees the other's commit."""
    db = Database(pg_url)
    other = Database(pg_url)
    try:
        with db.write() as conn:
            conn.execute(text("DROP TABLE IF EXISTS serial_probe"))
            conn.execute(text("CREATE TABLE serial_probe (id int primary key, v int)"))
            conn.execute(text("INSERT INTO serial_probe VALUES (1, 0)"))
        seen: list[int] = []

        def work(conn: Connection) -> None:
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            seen.append(conn.execute(text("SELECT v FROM serial_probe WHERE id = 1")).scalar_one())
            if len(seen) == 1:  # someone else commits after this snapshot was taken
                with other.write() as theirs:
                    theirs.execute(text("UPDATE serial_probe SET v = v + 10 WHERE id = 1"))
            conn.execute(text("UPDATE serial_probe SET v = v + 1 WHERE id = 1"))

        db.transact(work)
        assert seen == [0, 10]
        with db.read() as conn:
            assert conn.execute(text("SELECT v FROM serial_probe")).scalar_one() == 11
    finally:
        with db.write() as conn:
            conn.execute(text("DROP TABLE IF EXISTS serial_probe"))
        db.dispose()
        other.dispose()


def test_the_retry_is_bounded(database_url: str) -> None:
    """A transaction that loses every time is tried CONFLICT_ATTEMPTS times, then the
    conflict is raised (the API answers it 503 lock_conflict), on either database."""
    from sqlalchemy.exc import OperationalError

    from defib.store.database import CONFLICT_ATTEMPTS

    class Deadlock(Exception):
        sqlstate = "40P01"

    db = Database(database_url)
    calls: list[int] = []

    def always_loses(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text("SELECT 1"))
        raise OperationalError("UPDATE ...", {}, Deadlock("deadlock detected"))

    try:
        with pytest.raises(OperationalError, match="deadlock"):
            db.transact(always_loses)
        assert len(calls) == CONFLICT_ATTEMPTS > 1
    finally:
        db.dispose()


def test_other_errors_are_not_retried(pg_url: str) -> None:
    """Only lock conflicts are run again; anything else raises at once."""
    db = Database(pg_url)
    calls: list[int] = []

    def broken(conn: Connection) -> None:
        calls.append(1)
        conn.execute(text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(Exception, match="no_such_table"):
            db.transact(broken)
        assert calls == [1]
    finally:
        db.dispose()


def test_a_lock_conflict_no_one_retried_is_503_not_500() -> None:
    """The API answers an unretried deadlock with 503 and Retry-After (nothing was written)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import OperationalError

    from defib.api.errors import install_error_handlers

    class Deadlock(Exception):
        sqlstate = "40P01"

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise OperationalError("UPDATE ...", {}, Deadlock("deadlock detected"))

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json()["error"]["code"] == "lock_conflict"


def test_a_real_writer_that_loses_a_deadlock_answers_200_not_503(
    database_url: str, tmp_path: Path
) -> None:
    """Expiring a silence over the API locks the silence, then writes the timeline of the
    open incident it matches; another connection holding that incident and then asking for
    the silence makes PostgreSQL abort the expiry as the deadlock loser. The API's
    transaction runs again and answers 200 (it answered 503 lock_conflict before)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a deadlock needs PostgreSQL's row locks")
    from datetime import UTC, datetime, timedelta

    from fastapi.testclient import TestClient

    from defib.api import create_app
    from defib.auth import Role, generate_token
    from defib.bootstrap import Runtime
    from defib.clock import utcnow
    from defib.config import load_settings
    from defib.store import tokens as token_repo

    rt = Runtime(load_settings(None, data_dir=tmp_path / "data", database_url=database_url))
    other = Database(database_url)
    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name="admin", role=Role.ADMIN, token=token, created_by="t", now=utcnow()
        )
    try:
        client = TestClient(create_app(rt), raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {token}"
        alert = {"source": "m", "type": "performance", "title": "slow", "systems": ["chat-api"]}
        opened = client.post("/api/v1/alerts", json=alert).json()["results"][0]
        now = datetime.now(UTC)
        silence = {
            "matchers": [{"name": "system", "value": "chat-api", "isRegex": False}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "t",
            "comment": "rollout",
        }
        sid = client.post("/api/v2/silences", json=silence).json()["silenceID"]
        seq = int(opened["incident_id"].split("-")[1])
        with other.read() as conn:
            before = _deadlocks(conn, above=-1)
        incident_held, theirs_failed = threading.Event(), []

        def theirs() -> None:
            try:
                with other.write() as conn:
                    conn.execute(
                        text("SELECT 1 FROM incidents WHERE seq = :s FOR UPDATE"), {"s": seq}
                    )
                    incident_held.set()
                    threading.Event().wait(0.5)  # the expiry holds the silence and waits
                    conn.execute(
                        text("SELECT 1 FROM silences WHERE id = :i FOR UPDATE"), {"i": sid}
                    )
            except Exception as exc:  # the winner must not be the one aborted
                theirs_failed.append(exc)

        thread = threading.Thread(target=theirs)
        thread.start()
        assert incident_held.wait(10)
        answer = client.delete(f"/api/v2/silence/{sid}")
        thread.join(10)
        assert answer.status_code == 200, answer.text
        assert theirs_failed == []
        timeline = client.get(f"/api/v1/incidents/{opened['incident_id']}/timeline").json()
        assert [e["kind"] for e in timeline["items"]].count("silence_expired") == 1
        # PostgreSQL counted the deadlock: the expiry lost it and was run again.
        with other.read() as conn:
            assert _deadlocks(conn, above=before) > before
    finally:
        rt.close()
        other.dispose()


def _deadlocks(conn: Connection, *, above: int) -> int:
    """PostgreSQL's deadlock count for this database, waited for until it is above `above`
    (statistics reach the view a moment after the transaction ends), for up to 3 s."""
    import time

    found = 0
    for _ in range(30):
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        found = int(
            conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )
        if found > above:
            break
        time.sleep(0.1)
    return found
