"""Storage outages: tell "the database is unusable right now" from every other error.

PostgreSQL stopped or restarting, a connection cut, a pool that cannot hand out a
connection, SQLite on a full disk or failing I/O: none of these is a bug in the request
or the playbook. The API answers them with 503 and `Retry-After` (the sender retries;
nothing was half written, every write is one transaction), `/readyz` reports not ready,
and the engine waits and tries again instead of failing a step.

`OutageMonitor` remembers when the database last failed that way, so that readiness can
say "not ready" for a moment even when a cheap `SELECT 1` still works (SQLite answers
reads on a full disk).
"""

from __future__ import annotations

import errno
import os
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, event, exc
from sqlalchemy.engine import ExceptionContext

__all__ = [
    "RETRY_AFTER_SECONDS",
    "OutageMonitor",
    "StorageUnavailable",
    "is_lock_conflict",
    "is_storage_unavailable",
    "mentions_storage_failure",
    "probe_disk",
]

# What a 503 tells the sender to wait: outages we recover from take seconds.
RETRY_AFTER_SECONDS = 5

# OS errors of a disk or file system that cannot take writes now.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})

# SQLite reports these through OperationalError text (there is no error code in pysqlite
# before 3.11's sqlite_errorcode, and the text is stable across versions).
_SQLITE_MARKERS = (
    "database or disk is full",
    "disk i/o error",
    "database is locked",
    "unable to open database file",
    "attempt to write a readonly database",
)
# psycopg / libpq texts of a server that is going away or gone.
_PG_MARKERS = (
    "connection refused",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "connection timeout",
    "timeout expired",
    "connection is closed",
    "consuming input failed",
    "can't reconnect until invalid transaction is rolled back",
    "no space left on device",
    "could not extend file",
)


class StorageUnavailable(Exception):
    """Raised where code wants to say so explicitly (the cause is the driver's error)."""


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        orig = getattr(current, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        if isinstance(orig, BaseException) and orig not in seen:
            seen.append(orig)
        current = current.__cause__ or current.__context__
    return seen


def _one(error: BaseException) -> bool:
    if isinstance(error, StorageUnavailable):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.DisconnectionError | exc.TimeoutError | exc.InterfaceError):
        return True
    if isinstance(error, exc.PendingRollbackError) and "reconnect" in str(error).lower():
        # A later statement in a transaction whose connection a disconnect invalidated.
        return True
    if isinstance(error, OSError) and error.errno in _DISK_ERRNOS:
        return True
    if isinstance(error, ConnectionError):
        return True
    name = type(error).__name__
    if isinstance(error, exc.OperationalError) or name in ("OperationalError", "InterfaceError"):
        text = str(error).lower()
        if any(m in text for m in _SQLITE_MARKERS + _PG_MARKERS):
            return True
        # psycopg's OperationalError is, apart from the texts above, about the connection.
        return type(error).__module__.startswith("psycopg")
    return False


def is_storage_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database cannot be used right now."""
    for e in _chain(error):
        if _one(e):
            return True
        # DBOS wraps the errors of a step it retried until it gave up.
        inner = getattr(e, "errors", None)
        if isinstance(inner, list) and any(
            isinstance(i, BaseException) and is_storage_unavailable(i) for i in inner
        ):
            return True
    return False


def mentions_storage_failure(text: str) -> bool:
    """Whether an error's text (all that is left of an error that could not be restored
    from a checkpoint) names a driver's connection or disk failure."""
    lowered = text.lower()
    return ("operationalerror" in lowered or "psycopg" in lowered) and any(
        m in lowered for m in _SQLITE_MARKERS + _PG_MARKERS
    )


class OutageMonitor:
    """The last moment an engine's database failed as unavailable (monotonic seconds)."""

    def __init__(self, window_seconds: float = 3.0) -> None:
        self.window = window_seconds
        self._last_failure: float | None = None
        self._lock = threading.Lock()

    def note_failure(self) -> None:
        with self._lock:
            self._last_failure = time.monotonic()

    def recently_failed(self) -> bool:
        with self._lock:
            last = self._last_failure
        return last is not None and time.monotonic() - last < self.window

    def watch(self, engine: Engine) -> OutageMonitor:
        """Note every unavailable-storage error raised through `engine`."""

        @event.listens_for(engine, "handle_error")
        def _on_error(context: ExceptionContext) -> None:
            if is_storage_unavailable(context.original_exception):
                self.note_failure()

        return self


def probe_disk(directory: Path, size: int = 64 * 1024) -> None:
    """Write, fsync and remove a small file in `directory`; OSError when the disk cannot.

    SQLite still answers `SELECT 1` on a full disk, so readiness needs a real write where
    the database file lives.
    """
    path = directory / f".defib-probe-{uuid.uuid4().hex}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * size)
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        path.unlink(missing_ok=True)


# PostgreSQL's "deadlock detected" and "could not serialize access": the transaction lost
# a lock race with another one and was rolled back whole; running it again is correct.
_CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})


def is_lock_conflict(error: BaseException) -> bool:
    """Whether `error` (or its driver error) is a deadlock or serialization failure."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in _CONFLICT_SQLSTATES:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False
