"""Repository functions for received alerts, re-delivery detection and alert series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, text, update

from defib.store.tables import alerts, deliveries, incident_alerts
from defib.store.upsert import per_dialect, pick

STATES = ("firing", "resolved", "acknowledged")


def _claim_statement(dialect_insert: Any) -> Any:
    return (
        dialect_insert(deliveries)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(deliveries.c.key)
    )


def _mark_firing_statement(dialect_insert: Any) -> Any:
    stmt = dialect_insert(incident_alerts)
    return stmt.on_conflict_do_update(
        index_elements=["incident_seq", "source_key"],
        set_={"firing": True, "changed_at": stmt.excluded.changed_at},
        where=incident_alerts.c.firing.is_(False),
    )


_CLAIM = per_dialect(_claim_statement)
_MARK_FIRING = per_dialect(_mark_firing_statement)


def claim_deliveries(conn: Connection, keys: Sequence[tuple[str, str]], now: datetime) -> set[str]:
    """Claim (status, delivery key) pairs; return the `status|key` strings claimed now.

    A pair is claimed the first time it is seen since its key last changed state: a repeat
    is a re-delivery. INSERT .. ON CONFLICT DO NOTHING is atomic on both dialects, so two
    replicas handed the same re-delivery cannot both claim it; claiming one state deletes
    the others, so the next change of state is accepted again. Pairs must be distinct.
    """
    if not keys:
        return set()
    full = [f"{status}|{key}"[:320] for status, key in keys]
    # One prebuilt statement executed for many rows (SQLAlchemy batches it into multi-row
    # INSERTs itself): a `.values([...])` built per call was compiled anew for each group
    # size, most of a group's cost (issue 15).
    stmt = pick(conn, _CLAIM)
    claimed = {row.key for row in conn.execute(stmt, [{"key": k, "seen_at": now} for k in full])}
    others = [
        f"{other}|{key}"[:320]
        for (status, key), k in zip(keys, full, strict=True)
        if k in claimed
        for other in STATES
        if other != status
    ]
    if others:
        conn.execute(delete(deliveries).where(deliveries.c.key.in_(others)))
    return claimed


def release_deliveries(conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Forget claimed (status, delivery key) pairs: their next delivery is evaluated afresh.

    Used for alerts kept quiet (silenced, inhibited): like Alertmanager, a repeat that
    arrives after the silence ended must open an incident, not be dropped as a re-delivery.
    """
    full = [f"{status}|{key}"[:320] for status, key in keys]
    if full:
        conn.execute(delete(deliveries).where(deliveries.c.key.in_(full)))


def store_alerts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert alert rows in one batched statement."""
    if rows:
        conn.execute(insert(alerts), list(rows))


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


def mark_series_firing(
    conn: Connection, incident_seq: int, source_keys: Sequence[str], now: datetime
) -> None:
    """Mark several series of one incident as firing, in one upsert."""
    keys = list(dict.fromkeys(k[:300] for k in source_keys))
    if not keys:
        return
    conn.execute(
        pick(conn, _MARK_FIRING),
        [
            {"incident_seq": incident_seq, "source_key": k, "firing": True, "changed_at": now}
            for k in keys
        ],
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


def series_state(conn: Connection, incident_seq: int) -> tuple[int, int]:
    """(series feeding the incident, of which still firing)."""
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((incident_alerts.c.firing.is_(True), 1), else_=0)), 0),
        ).where(incident_alerts.c.incident_seq == incident_seq)
    ).one()
    return int(row[0]), int(row[1])


def series_of_incident(conn: Connection, incident_seq: int) -> list[Any]:
    """(source_key, firing, changed_at) of every series that fed the incident, oldest first."""
    return list(
        conn.execute(
            select(
                incident_alerts.c.source_key, incident_alerts.c.firing, incident_alerts.c.changed_at
            )
            .where(incident_alerts.c.incident_seq == incident_seq)
            .order_by(incident_alerts.c.changed_at, incident_alerts.c.source_key)
        )
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


def alerts_of_incident(conn: Connection, incident_seq: int, limit: int = 5000) -> list[Any]:
    """(received_at, source, payload) of an incident's stored alerts, oldest first."""
    from defib.store.tables import alerts

    return list(
        conn.execute(
            select(alerts.c.received_at, alerts.c.source, alerts.c.payload)
            .where(alerts.c.incident_seq == incident_seq)
            .order_by(alerts.c.id)
            .limit(limit)
        )
    )
