"""Which errors mean "storage unavailable" (real driver errors, not hand-made ones)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, exc, text

from defib.store.outage import OutageMonitor, is_storage_unavailable, probe_disk
from defib.testing import free_port


def insert(engine: Engine, value: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})


def raised(fn: object) -> BaseException:
    try:
        fn()  # type: ignore[operator]
    except BaseException as error:
        return error
    raise AssertionError("did not raise")


def test_a_postgresql_that_refuses_connections_is_unavailable() -> None:
    engine = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
        connect_args={"connect_timeout": 2},
    )
    error = raised(engine.connect)
    assert isinstance(error, exc.OperationalError)
    assert is_storage_unavailable(error)


def test_a_read_only_sqlite_is_unavailable_and_a_constraint_is_not(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    duplicate = raised(lambda: insert(engine, 1))
    assert isinstance(duplicate, exc.IntegrityError)
    assert not is_storage_unavailable(duplicate)
    engine.dispose()
    ro = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    readonly = raised(lambda: insert(ro, 2))
    assert is_storage_unavailable(readonly)
    assert not is_storage_unavailable(ValueError("database or disk is full"))
    assert is_storage_unavailable(OSError(errno.ENOSPC, "No space left on device"))


def test_the_monitor_notes_unavailable_errors_through_the_engine() -> None:
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    monitor = OutageMonitor(window_seconds=60).watch(engine)
    assert not monitor.recently_failed()
    with pytest.raises(exc.OperationalError):
        engine.connect()
    assert monitor.recently_failed()


def test_probe_disk_writes_and_leaves_nothing(tmp_path: Path) -> None:
    probe_disk(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError):
        probe_disk(tmp_path / "missing")


def test_a_statement_after_a_disconnect_in_the_same_transaction_is_unavailable() -> None:
    error = exc.PendingRollbackError(
        "Can't reconnect until invalid transaction is rolled back.  Please rollback() fully "
        "before proceeding"
    )
    assert is_storage_unavailable(error)
    assert not is_storage_unavailable(exc.PendingRollbackError("flush failed"))
