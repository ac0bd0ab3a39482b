"""Storm budgets counted in the database, so every replica spends the same one (issue 25).

Each (scope, key, minute) is a row; taking a unit locks the rows of the keys involved (in
key order, so two takers never deadlock), checks that all are under the limit and counts
one on each. `DatabaseStormBudget` owns its short transaction: it runs beside the intake
transaction that asks, on its own connection (PostgreSQL only: on SQLite one process holds
the write lock, and its in-process counters are exact).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Connection, and_, delete, select, update

from defib.store.database import Database
from defib.store.tables import storm_counters
from defib.store.upsert import per_dialect, pick

WINDOW_SECONDS = 60
KEEP_WINDOWS = 3  # older minutes are deleted as new ones start

_ENSURE = per_dialect(
    lambda ins: ins(storm_counters).on_conflict_do_nothing(
        index_elements=["scope", "key", "window_start"]
    )
)


def take(conn: Connection, scope: str, keys: Sequence[str], limit: int, window: int) -> bool:
    """Count one use on every key if all of them are under `limit` in `window`."""
    ordered = sorted(set(keys))
    for key in ordered:
        conn.execute(pick(conn, _ENSURE).values(scope=scope, key=key, window_start=window, used=0))
    match = and_(
        storm_counters.c.scope == scope,
        storm_counters.c.window_start == window,
        storm_counters.c.key.in_(ordered),
    )
    used = conn.execute(
        select(storm_counters.c.used).where(match).order_by(storm_counters.c.key).with_for_update()
    ).scalars()
    if any(u >= limit for u in used):
        return False
    conn.execute(update(storm_counters).where(match).values(used=storm_counters.c.used + 1))
    return True


def forget_before(conn: Connection, window: int) -> None:
    conn.execute(delete(storm_counters).where(storm_counters.c.window_start < window))


class DatabaseStormBudget:
    """Per-minute budgets shared by every process on one database (wall-clock minutes)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._last_window = 0

    def take(self, scope: str, keys: Sequence[str], limit: int) -> bool:
        window = int(time.time()) // WINDOW_SECONDS
        stale = window != self._last_window

        def count(conn: Connection) -> bool:
            if stale:
                forget_before(conn, window - KEEP_WINDOWS)
            return take(conn, scope, keys, limit, window)

        # Replicas counting the same keys meet on their rows: a deadlock loser counts again.
        taken = self.db.transact(count)
        self._last_window = window
        return taken
