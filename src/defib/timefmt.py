"""One timestamp format for everything defib shows: RFC 3339 in UTC with a `Z`.

The API, the CLI tables and `--json` all print instants this way, so a value copied from
one can be pasted into another (and sorts as text).
"""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(dt: datetime) -> str:
    """`2026-11-28T10:24:57.120000Z`-style (fraction only when there is one); naive = UTC."""
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    text = utc.replace(tzinfo=None).isoformat()
    return text + "Z"


def rfc3339_seconds(dt: datetime) -> str:
    """To the second, for tables people read: `2026-11-28T10:24:57Z`."""
    return rfc3339(dt.replace(microsecond=0))


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
