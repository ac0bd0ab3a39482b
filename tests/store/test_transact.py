"""A write transaction PostgreSQL rolls back as a deadlock or serialization loser runs again
(issue 25: a deadlock answered 500 on `POST /incidents/{id}/runs`, other writes 503).
Provoked for real: two connections locking two rows in opposite orders, and a REPEATABLE
READ update of a row another connection changed; bounded, and only for those SQLSTATEs."""

from __future__ import annotations

import threading

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
