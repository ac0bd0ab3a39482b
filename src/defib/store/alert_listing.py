"""The alerts defib holds now, for Alertmanager's `GET /api/v2/alerts` (amtool alert query)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from defib.events import IngestAction
from defib.model import OPEN_STATUSES
from defib.store.tables import alerts, incidents

MAX_ROWS = 5000


def current_alerts(conn: Connection, quiet_since: datetime) -> list[dict[str, Any]]:
    """Stored alerts of open incidents, and those silenced or inhibited since `quiet_since`
    (they opened nothing, so no incident holds them), oldest first."""
    rows = conn.execute(
        select(
            alerts.c.id,
            alerts.c.received_at,
            alerts.c.source,
            alerts.c.action,
            alerts.c.type,
            alerts.c.severity,
            alerts.c.fingerprint,
            alerts.c.payload,
            alerts.c.incident_seq,
            incidents.c.affected_systems,
        )
        .select_from(alerts.outerjoin(incidents, incidents.c.seq == alerts.c.incident_seq))
        .where(
            or_(
                incidents.c.status.in_([s.value for s in OPEN_STATUSES]),
                (alerts.c.action.in_((IngestAction.SILENCED, IngestAction.INHIBITED)))
                & (alerts.c.received_at >= quiet_since),
            )
        )
        .where(alerts.c.status == "firing")
        .order_by(alerts.c.id.desc())
        .limit(MAX_ROWS)
    ).mappings()
    return [dict(r) for r in reversed(list(rows))]
