"""System state as every gateway replica sees it: a cache polled from the database.

The request path reads only this cache (no query per request). A background thread asks the
database for every system's revision every `state_refresh_seconds` and re-reads only the
rows whose revision moved, so a kill switch or a rollback written by any process takes
effect everywhere within about that interval.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from defib.gateway.filters import FilterSet
from defib.store import systems as systems_repo
from defib.store.database import Database
from defib.systems.state import SystemState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    state: SystemState
    filters: FilterSet


class StateCache:
    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        # Replaced whole on change (never mutated): readers need no lock.
        self._entries: dict[str, Entry] = {}
        self.refreshed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The poll thread and a probe's on-demand refresh must not interleave: the slower
        # of two overlapping reads would put an older state back.
        self._refresh_lock = threading.Lock()

    def get(self, system: str) -> Entry | None:
        return self._entries.get(system)

    def refresh(self) -> bool:
        """Re-read changed states; True if anything changed."""
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        with self.db.read() as conn:
            revisions = systems_repo.revisions(conn)
            current = self._entries
            changed = [
                s
                for s, r in revisions.items()
                if s not in current or current[s].state.revision != r
            ]
            fresh = {s: systems_repo.get_state(conn, s) for s in changed}
        self.refreshed_at = time.monotonic()
        if not changed and len(revisions) == len(current):
            return False
        entries = {s: e for s, e in current.items() if s in revisions}
        for name, state in fresh.items():
            if state is None:
                continue
            try:
                entries[name] = Entry(state, FilterSet.build(state.filters))
            except Exception:  # a bad filter must not take the gateway down
                log.exception("system %s: filters could not be compiled; keeping none", name)
                entries[name] = Entry(state, FilterSet())
        self._entries = entries
        return True

    def start(self) -> None:
        self.refresh()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="defib-gateway-state", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # the database may be briefly away: serve the last state
                log.warning(
                    "gateway state refresh failed; serving the last known state", exc_info=True
                )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
