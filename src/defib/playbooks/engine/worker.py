"""A worker: the playbook engine launched in this process, plus its sweeper and janitor threads.

`defib worker` runs one alone; `defib serve` embeds one unless `--no-worker`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from defib.playbooks.engine import PlaybookEngine, host
from defib.playbooks.engine.janitor import Janitor

log = logging.getLogger(__name__)

# One embedded SQLite process: a fixed id lets a restart recover its own runs at once.
EMBEDDED_EXECUTOR_ID = "local"


def default_executor_id(engine: PlaybookEngine) -> str:
    """`local` on SQLite, else host-pid-random (distinct per worker); the root passes a
    configured id ($DEFIB_EXECUTOR_ID, `--executor-id`) to `Worker` instead."""
    if engine.db.is_sqlite:
        return EMBEDDED_EXECUTOR_ID
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{secrets.token_hex(3)}"


class Worker:
    def __init__(self, engine: PlaybookEngine, executor_id: str | None = None) -> None:
        self.engine = engine
        self.executor_id = executor_id or default_executor_id(engine)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.janitor = Janitor(
            engine.db,
            self.executor_id,
            ttl_seconds=engine.tuning.heartbeat_ttl_seconds,
            clock=engine.clock,
            recover=_recover,
        )

    def start(self) -> Worker:
        self.engine.launch(self.executor_id)
        self.janitor.beat()
        for target, name in (
            (self._sweep_loop, "defib-sweeper"),
            (self._janitor_loop, "defib-janitor"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _sweep_loop(self) -> None:
        # First pass at once: runs planned while no worker was up start now.
        older_than = 0.0
        next_reconcile = 0.0
        while not self._stop.is_set():
            try:
                self.engine.sweep(older_than=older_than)
            except Exception:
                log.warning("sweeper pass failed", exc_info=True)
            older_than = 1.0
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + self.engine.tuning.reconcile_seconds
                try:
                    self.engine.reconcile()
                except Exception:
                    log.warning("reconciler pass failed", exc_info=True)
            self._stop.wait(self.engine.tuning.sweep_seconds)

    def _janitor_loop(self) -> None:
        while not self._stop.wait(self.engine.tuning.heartbeat_seconds):
            try:
                self.janitor.tick()
            except Exception:
                log.warning("janitor pass failed", exc_info=True)

    def stop(self) -> None:
        """Stop; runs in flight stay PENDING under this executor id (a restart or the janitor
        picks them up), so a clean stop and a crash leave the same durable state."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.engine.shutdown()


def _recover(executor_ids: list[str]) -> int:
    return host.recover_pending(executor_ids)
