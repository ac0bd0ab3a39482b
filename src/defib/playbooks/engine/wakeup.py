"""Wake-ups: a worker starts a run as soon as it is enqueued, not at its next queue poll.

DBOS's queue thread polls (`engine.poll_seconds`, shared by every worker through DBOS's
queue row) and has no wake-up of its own, so on its own a new run waits up to one poll
interval before its first step. Two signals shorten that:

* in process: whoever enqueues in a process whose engine is launched wakes its dequeuer
  (`DbosHost.wake`) directly;
* across processes and replicas (PostgreSQL): the enqueuer sends `NOTIFY defib_runs` right
  after the enqueue committed, and every launched worker `LISTEN`s on it (`RunListener`)
  and wakes its own dequeuer. Workers that find the queue empty (another took the run)
  just go back to waiting.

A lost signal costs latency only: the queue poll stays the fallback, and the sweeper
enqueues any pending run nobody did.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from defib.store.database import Database

log = logging.getLogger(__name__)

# The PostgreSQL channel; NOTIFY and LISTEN meet per database, and every replica shares one.
CHANNEL = "defib_runs"
# How often the listener looks up from its socket to see whether it should stop.
LISTEN_TICK_SECONDS = 1.0
# After losing its connection, the listener tries again this often (the poll covers the gap).
RECONNECT_SECONDS = 1.0


def notify(db: Database) -> None:
    """Tell every listening worker that runs were enqueued (PostgreSQL; no-op on SQLite)."""
    if db.is_sqlite:
        return
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
        conn.commit()


def libpq_url(sqlalchemy_url: str) -> str:
    """The database URL as psycopg's `connect` takes it (no SQLAlchemy driver suffix)."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class RunListener:
    """A daemon thread that LISTENs on `CHANNEL` and calls `wake` for each notification."""

    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        self._url = libpq_url(database_url)
        self._wake = wake
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="defib-run-listener", daemon=True)

    def start(self, timeout: float = 10.0) -> RunListener:
        """Start listening; returns once LISTEN is in place (or after `timeout`)."""
        self._thread.start()
        self._listening.wait(timeout)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=LISTEN_TICK_SECONDS + 5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    # Runs enqueued while this listener was away: look once now.
                    self._wake()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_TICK_SECONDS):
                            self._wake()
            except Exception:
                if self._stop.is_set():
                    return
                log.warning("run listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(RECONNECT_SECONDS)
