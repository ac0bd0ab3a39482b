"""One timestamp format for everything defib shows: RFC 3339 in UTC with a `Z`.

The API, the CLI tables and `--json` all print instants this way, so a value copied from
one can be pasted into another (and sorts as text).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# An instant with a zone written out: `2026-11-28T10:24:57+00:00`, `...57.5Z`, `... 10:24:57Z`.
_INSTANT = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def rfc3339(dt: datetime) -> str:
    """`2026-11-28T10:24:57.120000Z`-style (fraction only when there is one); naive = UTC."""
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    text = utc.replace(tzinfo=None).isoformat()
    return text + "Z"


def rfc3339_seconds(dt: datetime) -> str:
    """To the second, for tables people read: `2026-11-28T10:24:57Z`."""
    return rfc3339(dt.replace(microsecond=0))


def normalise(value: Any) -> Any:
    """`value` with every zoned instant string inside it rewritten as `rfc3339` (UTC, `Z`).

    For free-form maps actions write (a timeline event's `data`, a step's `output`): they
    hold `isoformat()` strings (`+00:00`) that clients should not have to parse twice.
    """
    if isinstance(value, str):
        if _INSTANT.match(value):
            return rfc3339(datetime.fromisoformat(value))
        return value
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    return value


def display(value: object) -> str:
    """A table cell for an API timestamp string (or datetime); anything else unchanged."""
    if isinstance(value, datetime):
        return rfc3339_seconds(value)
    if isinstance(value, str):
        try:
            return rfc3339_seconds(datetime.fromisoformat(value))
        except ValueError:
            return value
    return "" if value is None else str(value)
