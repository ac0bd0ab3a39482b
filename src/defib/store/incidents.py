"""Repository functions for incidents and their timelines. Callers own the transaction."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Text,
    and_,
    bindparam,
    cast,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from defib.model import (
    Incident,
    IncidentType,
    InvalidInput,
    NotFound,
    Severity,
    Status,
    TimelineEvent,
    format_incident_id,
)
from defib.store.tables import incidents, timeline_events
from defib.store.upsert import per_dialect, pick

_MUTABLE = (
    "type",
    "severity",
    "title",
    "description",
    "status",
    "affected_systems",
    "labels",
    "fingerprint",
    "alert_count",
    "first_seen_at",
    "last_seen_at",
    "commander",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "reopened_at",
    "reopen_count",
    "needs_triage",
)


# Intake's hot statements, built once: building them per call (and compiling the ones
# whose shape varied) was most of a group commit's cost (issue 15).
_UPDATE = (
    update(incidents)
    .where(incidents.c.seq == bindparam("_seq"))
    .values({name: bindparam(name) for name in (*_MUTABLE, "updated_at")})
)
_OPEN_BY_FINGERPRINT = select(incidents).where(
    incidents.c.fingerprint == bindparam("_fingerprint"),
    incidents.c.status.in_([s.value for s in Status if s.is_open]),
)
_OPEN_BY_FINGERPRINT_LOCKED = _OPEN_BY_FINGERPRINT.with_for_update()
_INSERT_EVENT = insert(timeline_events).returning(timeline_events.c.id)
_INSERT_INCIDENT = insert(incidents).returning(*incidents.c)
# Intake's insert: nothing when the fingerprint already has an open incident (the unique
# index), without the savepoint a caught IntegrityError needs.
_INSERT_UNLESS_OPEN = per_dialect(
    lambda ins: ins(incidents).on_conflict_do_nothing().returning(*incidents.c)
)
_BY_SEQ = select(incidents).where(incidents.c.seq == bindparam("_seq"))
_BY_SEQ_LOCKED = _BY_SEQ.with_for_update()
_RECENTLY_RESOLVED = (
    select(incidents)
    .where(
        incidents.c.fingerprint == bindparam("_fingerprint"),
        incidents.c.status == Status.RESOLVED.value,
        incidents.c.resolved_at >= bindparam("_since", type_=incidents.c.resolved_at.type),
    )
    .order_by(incidents.c.resolved_at.desc())
    .limit(1)
)
_RECENTLY_RESOLVED_LOCKED = _RECENTLY_RESOLVED.with_for_update()


def _to_row(incident: Incident) -> dict[str, Any]:
    row = {name: getattr(incident, name) for name in _MUTABLE}
    row["type"] = incident.type.value
    row["severity"] = incident.severity.value
    row["status"] = incident.status.value
    row["affected_systems"] = list(incident.affected_systems)
    row["labels"] = dict(incident.labels)
    return row


def _from_row(row: RowMapping) -> Incident:
    return Incident(
        seq=row["seq"],
        type=IncidentType(row["type"]),
        severity=Severity(row["severity"]),
        title=row["title"],
        description=row["description"],
        status=Status(row["status"]),
        affected_systems=tuple(row["affected_systems"]),
        labels=dict(row["labels"]),
        fingerprint=row["fingerprint"],
        alert_count=row["alert_count"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        commander=row["commander"],
        detected_at=row["detected_at"],
        acknowledged_at=row["acknowledged_at"],
        mitigated_at=row["mitigated_at"],
        resolved_at=row["resolved_at"],
        closed_at=row["closed_at"],
        reopened_at=row["reopened_at"],
        reopen_count=row["reopen_count"],
        created_by=row["created_by"],
        needs_triage=bool(row["needs_triage"]),
    )


def _insert_row(incident: Incident, now: datetime) -> dict[str, Any]:
    row = _to_row(incident)
    row["created_by"] = incident.created_by
    row["updated_at"] = now
    return row


def insert_incident(conn: Connection, incident: Incident, now: datetime) -> Incident:
    """Insert `incident` (its seq is ignored) and return it with the assigned seq."""
    # RETURNING the whole row: what the database made of it (defaults, types) without a
    # second query.
    stored = conn.execute(_INSERT_INCIDENT, _insert_row(incident, now)).mappings().one()
    return _from_row(stored)


def insert_incident_unless_open(
    conn: Connection, incident: Incident, now: datetime
) -> Incident | None:
    """Insert `incident` as `insert_incident` does; None, and nothing written, when its
    fingerprint has an open incident already (another transaction's, committed meanwhile)."""
    stmt = pick(conn, _INSERT_UNLESS_OPEN)
    stored = conn.execute(stmt, _insert_row(incident, now)).mappings().first()
    return _from_row(stored) if stored is not None else None


def get_incident(conn: Connection, seq: int, *, for_update: bool = False) -> Incident:
    # FOR UPDATE serialises concurrent writers on PostgreSQL; SQLite's BEGIN IMMEDIATE
    # already does.
    query = _BY_SEQ_LOCKED if for_update else _BY_SEQ
    row = conn.execute(query, {"_seq": seq}).mappings().first()
    if row is None:
        raise NotFound(f"no incident {format_incident_id(seq)}")
    return _from_row(row)


def find_open_by_fingerprint(
    conn: Connection, fingerprint: str, *, for_update: bool = False
) -> Incident | None:
    query = _OPEN_BY_FINGERPRINT_LOCKED if for_update else _OPEN_BY_FINGERPRINT
    row = conn.execute(query, {"_fingerprint": fingerprint}).mappings().first()
    return _from_row(row) if row is not None else None


def find_recently_resolved(
    conn: Connection, fingerprint: str, since: datetime, *, for_update: bool = False
) -> Incident | None:
    """The newest incident with this fingerprint resolved at or after `since`."""
    query = _RECENTLY_RESOLVED_LOCKED if for_update else _RECENTLY_RESOLVED
    row = conn.execute(query, {"_fingerprint": fingerprint, "_since": since}).mappings().first()
    return _from_row(row) if row is not None else None


def update_incident(conn: Connection, incident: Incident, now: datetime) -> None:
    row = _to_row(incident)
    row["updated_at"] = now
    row["_seq"] = incident.seq
    result = conn.execute(_UPDATE, row)
    if result.rowcount != 1:
        raise NotFound(f"no incident {incident.id}")


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: Sequence[Status] = ()
    type: Sequence[IncidentType] = ()
    severity: Sequence[Severity] = ()
    system: str | None = None


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "s" or not (value.isascii() and value.isdigit()) or len(value) > 18:
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor: not a cursor this server handed out") from exc


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9._:/@ -]{1,200}$")


def list_incidents(
    conn: Connection, flt: IncidentFilter, *, limit: int, cursor: str | None = None
) -> tuple[list[Incident], str | None]:
    """Newest first (by seq), keyset-paginated so pages stay stable while incidents arrive."""
    conds: list[ColumnElement[bool]] = []
    if flt.status:
        conds.append(incidents.c.status.in_([s.value for s in flt.status]))
    if flt.type:
        conds.append(incidents.c.type.in_([t.value for t in flt.type]))
    if flt.severity:
        conds.append(incidents.c.severity.in_([s.value for s in flt.severity]))
    if cursor is not None:
        conds.append(incidents.c.seq < decode_cursor(cursor))
    if flt.system is not None and _PLAIN_NAME.match(flt.system):
        # A cheap pre-filter on the stored JSON text (`"name"` appears verbatim for plain
        # ASCII names on both dialects) so a rare system does not mean scanning every row;
        # the exact membership test below still decides.
        escaped = flt.system.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(cast(incidents.c.affected_systems, Text).like(f'%"{escaped}"%', escape="\\"))
    query = select(incidents).order_by(incidents.c.seq.desc())
    if conds:
        query = query.where(and_(*conds))
    if flt.system is None:
        rows = conn.execute(query.limit(limit + 1)).mappings().all()
        found = [_from_row(r) for r in rows]
    else:
        # JSON containment differs per dialect; filtering the (indexed, ordered) scan in
        # Python keeps one code path. Fine at incident volumes; revisit with a join table.
        found = []
        for row in conn.execute(query.execution_options(yield_per=500)).mappings():
            if flt.system in row["affected_systems"]:
                found.append(_from_row(row))
                if len(found) > limit:
                    break
    next_cursor = encode_cursor(found[limit - 1].seq) if len(found) > limit else None
    return found[:limit], next_cursor


def append_event(
    conn: Connection, seq: int, event: TimelineEvent, *, idempotency_key: str | None = None
) -> TimelineEvent:
    """Append `event`; with a key already used, return the stored event and write nothing."""
    values = {
        "incident_seq": seq,
        "at": event.at,
        "actor": event.actor,
        "kind": event.kind,
        "data": dict(event.data),
        "idempotency_key": idempotency_key,
    }
    if idempotency_key is None:
        event_id = conn.execute(_INSERT_EVENT, values).scalar_one()
    else:
        try:
            with conn.begin_nested():
                event_id = conn.execute(_INSERT_EVENT, values).scalar_one()
        except IntegrityError:
            row = (
                conn.execute(
                    select(timeline_events).where(
                        timeline_events.c.idempotency_key == idempotency_key
                    )
                )
                .mappings()
                .one()
            )
            return _event_from_row(row)
    return TimelineEvent(
        at=event.at,
        actor=event.actor,
        kind=event.kind,
        data=event.data,
        incident_seq=seq,
        id=event_id,
    )


def _event_from_row(r: RowMapping) -> TimelineEvent:
    return TimelineEvent(
        at=r["at"],
        actor=r["actor"],
        kind=r["kind"],
        data=r["data"],
        incident_seq=r["incident_seq"],
        id=r["id"],
    )


def list_events(
    conn: Connection, seq: int, *, after_id: int | None = None, limit: int = 1000
) -> list[TimelineEvent]:
    query = select(timeline_events).where(timeline_events.c.incident_seq == seq)
    if after_id is not None:
        query = query.where(timeline_events.c.id > after_id)
    rows = conn.execute(query.order_by(timeline_events.c.id).limit(limit)).mappings().all()
    return [_event_from_row(r) for r in rows]
