"""Repository functions for evidence items and the records evidence is collected from.

Callers own the transaction. Rows are only ever inserted; `delete_items` exists for
retention after an incident is over, and the service refuses it while the incident is open.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select

from defib.store.tables import alerts, evidence_items, timeline_events


def _item(row: RowMapping) -> dict[str, Any]:
    return dict(row)


def list_items(conn: Connection, seq: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(evidence_items)
        .where(evidence_items.c.incident_seq == seq)
        .order_by(evidence_items.c.n)
    ).mappings()
    return [_item(r) for r in rows]


def get_item(conn: Connection, seq: int, n: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(evidence_items).where(
                evidence_items.c.incident_seq == seq, evidence_items.c.n == n
            )
        )
        .mappings()
        .first()
    )
    return _item(row) if row is not None else None


def last_item(conn: Connection, seq: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(evidence_items)
            .where(evidence_items.c.incident_seq == seq)
            .order_by(evidence_items.c.n.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return _item(row) if row is not None else None


def find_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    row = (
        conn.execute(select(evidence_items).where(evidence_items.c.idempotency_key == key))
        .mappings()
        .first()
    )
    return _item(row) if row is not None else None


def insert_item(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(evidence_items).values(**values))


def delete_items(conn: Connection, seq: int) -> list[str]:
    """Delete an incident's items; return the hashes no other item still references."""
    hashes = {
        r[0]
        for r in conn.execute(
            select(evidence_items.c.sha256).where(evidence_items.c.incident_seq == seq)
        )
    }
    conn.execute(delete(evidence_items).where(evidence_items.c.incident_seq == seq))
    if not hashes:
        return []
    still = {
        r[0]
        for r in conn.execute(
            select(evidence_items.c.sha256).where(evidence_items.c.sha256.in_(hashes))
        )
    }
    return sorted(hashes - still)


def count_items(conn: Connection, seq: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(evidence_items)
            .where(evidence_items.c.incident_seq == seq)
        ).scalar_one()
    )


def alerts_for_incident(conn: Connection, seq: int) -> list[dict[str, Any]]:
    """Every stored alert of an incident, oldest first, with its raw payload."""
    rows = conn.execute(
        select(alerts).where(alerts.c.incident_seq == seq).order_by(alerts.c.id)
    ).mappings()
    return [_item(r) for r in rows]


def timeline_key_exists(conn: Connection, key: str) -> bool:
    """Whether a timeline event with this idempotency key was written (a delivery recorded)."""
    found = conn.execute(
        select(timeline_events.c.id).where(timeline_events.c.idempotency_key == key)
    ).first()
    return found is not None


def timeline_keys_among(conn: Connection, keys: Collection[str]) -> set[str]:
    """Which of `keys` a timeline event was written under (one indexed lookup)."""
    rows = conn.execute(
        select(timeline_events.c.idempotency_key).where(
            timeline_events.c.idempotency_key.in_(list(keys))
        )
    )
    return {r[0] for r in rows}
