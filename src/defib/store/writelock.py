"""The lock a process's writers queue on, with intake first.

SQLite has one writer at a time, so every writer of the process queues here; on PostgreSQL
only intake and the playbook engine's group writes do (`Database.write`). During an alert
storm the playbook engine's writes (the runs that the storm's incidents started) took the
write lock as often as intake did, so new alerts waited behind the very playbooks they had
started (issue 15). Here a waiting *urgent* writer (intake's group commit) goes before
waiting ordinary ones, and an ordinary writer that has waited `max_defer` seconds is let in
anyway, so playbooks slow down during a storm but never stop.

On PostgreSQL the engine's group writers need no mutual exclusion among themselves (four of
them write concurrently: one writer thread was the engine's bottleneck), only an order
against intake. They take the lock *shared* (`acquire_shared`): any number at once, none
while intake holds it, and none newly admitted while intake waits (up to `max_defer`), and
intake waits for the shared holders already in. Without that order a new incident per alert
fell from ~100 to ~20 alerts/s on PostgreSQL, the four writers' round trips crowding out
intake's on the same cores (docs/bench-intake.md).
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
        self._shared = 0

    def _wait_for_urgent(self, deadline: float, blocked: bool) -> bool:
        """Wait once while the lock is held (`blocked`) or an urgent writer waits (until
        the deadline); False when neither holds any more."""
        if not blocked and not (self._urgent_waiting and time.monotonic() < deadline):
            return False
        # Held: wait for the release. Free, but an urgent writer is waiting: let it go
        # first, until the deadline.
        self._cond.wait(None if blocked else max(0.0, deadline - time.monotonic()))
        return True

    def acquire(self, urgent: bool = False) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._owner is not None or self._shared:
                        self._cond.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                deadline = time.monotonic() + self.max_defer
                while self._wait_for_urgent(deadline, self._owner is not None or self._shared > 0):
                    pass
            self._owner = me
            self._depth = 1

    def acquire_shared(self) -> bool:
        """Hold the lock beside other shared holders, after any urgent writer waiting (for
        at most `max_defer`) and never while an exclusive holder is in. False when this
        thread already holds it exclusively: then it was re-entered, and `release` (not
        `release_shared`) gives it back."""
        with self._cond:
            if self._owner == threading.get_ident():
                self._depth += 1
                return False
            deadline = time.monotonic() + self.max_defer
            while self._wait_for_urgent(deadline, self._owner is not None):
                pass
            self._shared += 1
            return True

    def release_shared(self) -> None:
        with self._cond:
            if self._shared <= 0:
                raise RuntimeError("release of a shared write lock nobody holds")
            self._shared -= 1
            if self._shared == 0:
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a write lock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()
