"""Engine creation and transactions, with each dialect's settings done right."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import stamina
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from defib.store.outage import OutageMonitor, is_lock_conflict, probe_disk
from defib.store.writelock import UrgentFirstLock

SQLITE_BUSY_TIMEOUT_MS = 10_000
# A transaction PostgreSQL rolled back as a deadlock loser is run again, at most this many
# times in all, after waits growing from 20 ms to 0.5 s, and never past 10 s in all: a
# request waits a little longer instead of failing, and a pathological conflict still ends.
CONFLICT_ATTEMPTS = 5
CONFLICT_WAIT_INITIAL_SECONDS = 0.02
CONFLICT_WAIT_MAX_SECONDS = 0.5
CONFLICT_TIMEOUT_SECONDS = 10.0
T = TypeVar("T")
# A PostgreSQL that does not answer (host down, packets dropped) fails a connection
# attempt after this long instead of hanging a request (libpq waits forever by default).
PG_CONNECT_TIMEOUT_SECONDS = 5


class Database:
    """One engine; `write()` and `read()` hand out transactions.

    On SQLite a write transaction starts with BEGIN IMMEDIATE so two writers queue on the
    busy timeout instead of one failing when it upgrades its read lock (SQLITE_BUSY).
    Writers of one process also queue on a lock of their own first: SQLite's busy handler
    retries by sleeping (up to 100 ms a time), so intake's group commit waiting behind the
    playbook engine's writes lost most of its time asleep (issue 15); a lock hands over at
    once, and intake's writes go before the playbooks' (`store.writelock`). Other processes
    still meet the busy timeout.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {
                "check_same_thread": False,
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            }
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
            if self.dialect == "postgresql":
                kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS}
        self.engine: Engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        # Remembers storage outages seen through this engine (readiness reads it).
        self.outages = OutageMonitor().watch(self.engine)
        # SQLite: every writer of the process queues here (reentrant: a nested write in one
        # thread meets SQLite's own lock, as it always did). PostgreSQL takes concurrent
        # writers, so only intake and the writers that defer to it meet here: an order
        # between them, not mutual exclusion for the database's sake.
        self._write_lock = UrgentFirstLock()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self, *, urgent: bool = False, defer: bool = False) -> Iterator[Connection]:
        """A write transaction. `urgent` (intake) goes before this process's other writers
        waiting: on SQLite all of them, on PostgreSQL those that `defer` (the playbook
        engine's group writes, which hold the lock shared among themselves), which otherwise
        starved intake of CPU and round trips."""
        lock = self._write_lock
        # PostgreSQL's deferring writers (the engine's group writers) run beside each other,
        # ordered only against intake; on SQLite every writer is exclusive.
        shared = defer and not urgent and not self.is_sqlite
        exclusive = self.is_sqlite or urgent
        if shared:
            shared = lock.acquire_shared()
            exclusive = not shared
        elif exclusive:
            lock.acquire(urgent)
        try:
            with self.engine.connect() as conn:
                conn.execution_options(defib_write=True)
                with conn.begin():
                    yield conn
        finally:
            if shared:
                lock.release_shared()
            elif exclusive:
                lock.release()

    def transact(
        self, work: Callable[[Connection], T], *, attempts: int = CONFLICT_ATTEMPTS, **kw: bool
    ) -> T:
        """`work` in a write transaction, run again when PostgreSQL rolled it back as the
        loser of a deadlock or serialization conflict (SQLSTATE 40P01, 40001).

        The retry is safe because of the shape: PostgreSQL undid the whole transaction, and
        `work` is the whole transaction, so running it again starts from nothing (issue 25:
        a deadlock answered 500). `work` must therefore have no effects outside `conn` (no
        HTTP, no files, no appends to lists it returns through). Any other error, or a
        conflict on the last attempt, is raised as it was. A `with db.write()` block cannot
        be retried like this (its body is not a function): writers that may meet another
        transaction's locks in another order use `transact`.

        stamina runs the loop (as `integrations.base.retrying` does for deliveries):
        exponential backoff with jitter, since two losers retrying in step would meet again,
        bounded by `attempts` and by CONFLICT_TIMEOUT_SECONDS overall."""
        for attempt in stamina.retry_context(
            on=is_lock_conflict,
            attempts=attempts,
            timeout=CONFLICT_TIMEOUT_SECONDS,
            wait_initial=CONFLICT_WAIT_INITIAL_SECONDS,
            wait_max=CONFLICT_WAIT_MAX_SECONDS,
            wait_jitter=CONFLICT_WAIT_INITIAL_SECONDS,
            name="defib.store.transact",
        ):
            with attempt, self.write(**kw) as conn:
                return work(conn)
        raise AssertionError("unreachable: stamina yields until success or raises")  # for mypy

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def check_usable(self) -> None:
        """Raise if the database cannot take writes now: it does not answer, its disk (SQLite)
        refuses a small write, or a query failed as unavailable in the last few seconds."""
        self.ping()
        database = make_url(self.url).database
        if self.is_sqlite and database and database != ":memory:":
            probe_disk(Path(database).parent)
        if self.outages.recently_failed():
            raise OSError("the database failed as unavailable a moment ago")

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN; pysqlite's own would be deferred.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit acknowledged to a sender survives power loss, not just a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("defib_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
