"""An incident's data impact (set by assess_data_impact). Callers own the transaction.

Kept in `incidents.impact`, apart from the lifecycle columns the incident repository
writes, so an incident update never overwrites an assessment (and the reverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from defib.model import NotFound, format_incident_id
from defib.store.tables import incidents


def set_impact(conn: Connection, seq: int, impact: Mapping[str, Any]) -> None:
    result = conn.execute(
        update(incidents).where(incidents.c.seq == seq).values(impact=dict(impact))
    )
    if result.rowcount != 1:
        raise NotFound(f"no incident {format_incident_id(seq)}")


def get_impact(conn: Connection, seq: int) -> dict[str, Any] | None:
    row = conn.execute(select(incidents.c.impact).where(incidents.c.seq == seq)).first()
    if row is None:
        raise NotFound(f"no incident {format_incident_id(seq)}")
    return dict(row.impact) if row.impact is not None else None
