"""Repository functions for on-call overrides and PagerDuty webhook events seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from defib.events import TimelineKind
from defib.oncall import Override
from defib.store.tables import (
    incidents,
    oncall_overrides,
    pagerduty_webhook_events,
    timeline_events,
)


def _from_row(row: RowMapping) -> Override:
    return Override(
        id=row["id"],
        schedule=row["schedule"],
        person=row["person"],
        start=row["starts_at"],
        end=row["ends_at"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def insert_override(conn: Connection, o: Override, comment: str = "") -> Override:
    conn.execute(
        insert(oncall_overrides).values(
            id=o.id,
            schedule=o.schedule,
            person=o.person,
            starts_at=o.start,
            ends_at=o.end,
            created_by=o.created_by,
            created_at=o.created_at,
            comment=comment,
        )
    )
    return o


def list_overrides(
    conn: Connection, *, schedule: str | None = None, ending_after: datetime | None = None
) -> list[Override]:
    """Live (not deleted) overrides, optionally of one schedule and still running after."""
    q = select(oncall_overrides).where(oncall_overrides.c.deleted_at.is_(None))
    if schedule is not None:
        q = q.where(oncall_overrides.c.schedule == schedule)
    if ending_after is not None:
        q = q.where(oncall_overrides.c.ends_at > ending_after)
    q = q.order_by(oncall_overrides.c.starts_at, oncall_overrides.c.id)
    return [_from_row(r) for r in conn.execute(q).mappings()]


def delete_override(conn: Connection, override_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(oncall_overrides)
        .where(oncall_overrides.c.id == override_id, oncall_overrides.c.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    return result.rowcount > 0


def claim_webhook_event(conn: Connection, event_id: str, now: datetime) -> bool:
    """Record a PagerDuty event id; False when it was already recorded (a replay)."""
    try:
        with conn.begin_nested():
            conn.execute(insert(pagerduty_webhook_events).values(id=event_id, received_at=now))
    except IntegrityError:
        return False
    return True


def release_webhook_event(conn: Connection, event_id: str) -> None:
    """Forget an event id whose effect failed, so PagerDuty's retry is applied."""
    conn.execute(delete(pagerduty_webhook_events).where(pagerduty_webhook_events.c.id == event_id))


def forget_webhook_events(conn: Connection, before: datetime) -> int:
    """Drop event ids older than the replay window (older events are refused by age)."""
    result = conn.execute(
        delete(pagerduty_webhook_events).where(pagerduty_webhook_events.c.received_at < before)
    )
    return result.rowcount


def page_events(conn: Connection) -> list[tuple[int, datetime, str, dict[str, object]]]:
    """Every `page_sent` and `escalated` timeline event: (incident, at, kind, data)."""
    q = (
        select(
            timeline_events.c.incident_seq,
            timeline_events.c.at,
            timeline_events.c.kind,
            timeline_events.c.data,
        )
        .where(timeline_events.c.kind.in_((TimelineKind.PAGE_SENT, TimelineKind.ESCALATED)))
        .order_by(timeline_events.c.id)
    )
    return [(int(r[0]), r[1], str(r[2]), dict(r[3] or {})) for r in conn.execute(q)]


def acknowledged_at(conn: Connection, seqs: list[int]) -> dict[int, datetime]:
    """When each of these incidents was (last) acknowledged; absent: never."""
    if not seqs:
        return {}
    q = select(incidents.c.seq, incidents.c.acknowledged_at).where(
        incidents.c.seq.in_(seqs), incidents.c.acknowledged_at.is_not(None)
    )
    return {int(r[0]): r[1] for r in conn.execute(q)}
