"""Repository functions for received alerts, re-delivery detection and alert series."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from defib.store.tables import alerts, deliveries, incident_alerts

STATES = ("firing", "resolved", "acknowledged")


def claim_delivery(conn: Connection, status: str, delivery_key: str, now: datetime) -> bool:
    """True the first time this (status, key) is seen since the key last changed state.

    INSERT .. ON CONFLICT DO NOTHING is atomic on both dialects, so two replicas handed the
    same re-delivery at once cannot both claim it.
    """
    key = f"{status}|{delivery_key}"[:320]
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        dialect_insert(deliveries)
        .values(key=key, seen_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(deliveries.c.key)
    )
    claimed = conn.execute(stmt).first() is not None
    if claimed:
        others = [f"{s}|{delivery_key}"[:320] for s in STATES if s != status]
        conn.execute(delete(deliveries).where(deliveries.c.key.in_(others)))
    return claimed


def store_alert(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(insert(alerts).values(**values).returning(alerts.c.id)).scalar_one())


def link_alert(conn: Connection, alert_id: int, incident_seq: int | None, action: str) -> None:
    conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id)
        .values(incident_seq=incident_seq, action=action)
    )


def mark_series(
    conn: Connection, incident_seq: int, source_key: str, *, firing: bool, now: datetime
) -> None:
    """Record whether a source series of the incident fires. Callers hold the incident's lock."""
    key = source_key[:300]
    found = conn.execute(
        select(incident_alerts.c.firing).where(
            incident_alerts.c.incident_seq == incident_seq, incident_alerts.c.source_key == key
        )
    ).first()
    if found is None:
        conn.execute(
            insert(incident_alerts).values(
                incident_seq=incident_seq, source_key=key, firing=firing, changed_at=now
            )
        )
    elif found.firing != firing:
        conn.execute(
            update(incident_alerts)
            .where(
                incident_alerts.c.incident_seq == incident_seq,
                incident_alerts.c.source_key == key,
            )
            .values(firing=firing, changed_at=now)
        )


def firing_series(conn: Connection, incident_seq: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(incident_alerts)
            .where(
                incident_alerts.c.incident_seq == incident_seq, incident_alerts.c.firing.is_(True)
            )
        ).scalar_one()
    )


def open_incident_for_series(conn: Connection, source_key: str) -> int | None:
    """The newest open incident fed by this source series, if any."""
    from defib.store.tables import OPEN_STATUS_SQL, incidents

    row = conn.execute(
        select(incidents.c.seq)
        .join(incident_alerts, incident_alerts.c.incident_seq == incidents.c.seq)
        .where(incident_alerts.c.source_key == source_key[:300], text(OPEN_STATUS_SQL))
        .order_by(incidents.c.seq.desc())
        .limit(1)
    ).first()
    return int(row.seq) if row is not None else None
