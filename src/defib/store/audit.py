"""Repository functions for the audit log (append-only; read newest first)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from defib.store.tables import audit_events


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    actor: str
    kind: str
    subject: str
    data: Mapping[str, Any]
    id: int | None = None


def append(conn: Connection, event: AuditEvent) -> None:
    conn.execute(
        insert(audit_events).values(
            at=event.at,
            actor=event.actor[:200],
            kind=event.kind,
            subject=event.subject[:200],
            data=dict(event.data),
        )
    )


def list_events(
    conn: Connection, *, kind: str | None = None, before: int | None = None, limit: int = 50
) -> list[AuditEvent]:
    """Newest first; `before` is the id of the last event already handed out."""
    query = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(audit_events.c.kind == kind)
    if before is not None:
        query = query.where(audit_events.c.id < before)
    return [
        AuditEvent(r["at"], r["actor"], r["kind"], r["subject"], r["data"], r["id"])
        for r in conn.execute(query).mappings()
    ]


def exists(conn: Connection, kind: str, subject: str) -> bool:
    query = select(audit_events.c.id).where(
        audit_events.c.kind == kind, audit_events.c.subject == subject[:200]
    )
    return conn.execute(query.limit(1)).first() is not None


def count_since(conn: Connection, kind: str, subject: str, since: datetime) -> int:
    query = select(func.count()).where(
        audit_events.c.kind == kind,
        audit_events.c.subject == subject[:200],
        audit_events.c.at >= since,
    )
    return int(conn.execute(query).scalar_one())
