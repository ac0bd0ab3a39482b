"""An incident's review fields and edited taxonomy mapping. Callers own the transaction.

Kept in their own columns, apart from the lifecycle columns the incident repository
writes, so a transition never overwrites a review (and the reverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from defib.model import NotFound, format_incident_id
from defib.store.tables import incidents

_COLUMNS = {"review": incidents.c.review, "taxonomy": incidents.c.taxonomy}


def get(conn: Connection, seq: int, what: str) -> dict[str, Any] | None:
    row = conn.execute(select(_COLUMNS[what]).where(incidents.c.seq == seq)).first()
    if row is None:
        raise NotFound(f"no incident {format_incident_id(seq)}")
    return dict(row[0]) if row[0] is not None else None


def put(conn: Connection, seq: int, what: str, value: Mapping[str, Any]) -> None:
    stmt = update(incidents).where(incidents.c.seq == seq).values({what: dict(value)})
    if conn.execute(stmt).rowcount != 1:
        raise NotFound(f"no incident {format_incident_id(seq)}")
