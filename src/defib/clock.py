"""Pure: the one clock type every service takes, and the wall clock it defaults to.

Services accept a `Clock` so tests and replays can pin time; nothing else in defib calls
`datetime.now` for a timestamp it stores.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


__all__ = ["Clock", "utcnow"]
