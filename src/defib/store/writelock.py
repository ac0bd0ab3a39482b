"""The lock a process's writers queue on, with intake first.

SQLite has one writer at a time, so every writer of the process queues here; on PostgreSQL
only intake and the playbook engine's group writes do (`Database.write`). During an alert
storm the playbook engine's writes (the runs that the storm's incidents started) took the
write lock as often as intake did, so new alerts waited behind the very playbooks they had
started (issue 15). Here a waiting *urgent* writer (intake's group commit) goes before
waiting ordinary ones, and an ordinary writer that has waited `max_defer` seconds is let in
anyway, so playbooks slow down during a storm but never stop.
"""

from __future__ import annotations

import threading
import time

# Long enough that intake's next group is usually waiting already when one commits; short
# enough that a playbook step's write is late by a fraction of a second at most.
MAX_DEFER_SECONDS = 0.2


class UrgentFirstLock:
    """A reentrant lock; `acquire(urgent=True)` overtakes ordinary waiters."""

    def __init__(self, max_defer: float = MAX_DEFER_SECONDS) -> None:
        self.max_defer = max_defer
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0

    def acquire(self, urgent: bool = False) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._owner is not None:
                        self._cond.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                deadline = time.monotonic() + self.max_defer
                while self._owner is not None or (
                    self._urgent_waiting and time.monotonic() < deadline
                ):
                    # Held: wait for the release. Free, but an urgent writer is waiting: let
                    # it go first, until the deadline.
                    free = self._owner is None
                    self._cond.wait(max(0.0, deadline - time.monotonic()) if free else None)
            self._owner = me
            self._depth = 1

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a write lock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()
