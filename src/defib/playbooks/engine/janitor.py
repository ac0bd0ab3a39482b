"""The janitor: heartbeats, and a leader that hands a dead worker's runs to a live one.

Open-source DBOS recovers a worker's PENDING workflows only when a process with the same
executor id starts again. A worker killed for good would strand its runs, so every worker
beats a row in `engine_heartbeats`; one of them at a time (the holder of a PostgreSQL
advisory lock; on SQLite the write lock serialises them) re-enqueues the PENDING workflows
of executors whose heartbeat is older than the TTL, and marks them recovered.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import text

from defib.store import runs as repo
from defib.store.database import Database

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "defib janitor" (any constant shared by all workers).
JANITOR_LOCK_KEY = 0x0DEF1B_1A17


class Janitor:
    def __init__(
        self,
        db: Database,
        executor_id: str,
        *,
        ttl_seconds: float,
        clock: Callable[[], datetime],
        recover: Callable[[list[str]], int],
    ) -> None:
        self.db = db
        self.executor_id = executor_id
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock
        self.recover = recover
        self.hostname = socket.gethostname()[:200]
        self.pid = os.getpid()

    def beat(self) -> None:
        with self.db.write() as conn:
            repo.beat(conn, self.executor_id, self.hostname, self.pid, self.clock())

    def sweep_dead(self) -> list[str]:
        """If this worker leads, recover executors whose heartbeat expired; return their ids."""
        now = self.clock()
        recovered: list[str] = []
        with self.db.write() as conn:
            if not self.db.is_sqlite:
                leader = conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": JANITOR_LOCK_KEY}
                ).scalar()
                if not leader:
                    return []
            dead = [
                e for e in repo.expired_executors(conn, now - self.ttl) if e != self.executor_id
            ]
            for executor in dead:
                count = self.recover([executor])
                log.warning(
                    "janitor: executor %s stopped beating; recovered %d runs", executor, count
                )
                repo.mark_recovered(conn, executor, now)
                recovered.append(executor)
        return recovered

    def tick(self) -> list[str]:
        self.beat()
        return self.sweep_dead()
