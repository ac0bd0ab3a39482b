"""Aggregate queries behind the database-derived series of GET /metrics and the report.

Every query here is one GROUP BY over an indexed or small table, so a scrape costs a few
aggregate scans however many incidents there are; nothing loads incident rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    Float,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from defib.events import TimelineKind
from defib.store.tables import engine_heartbeats, incidents, playbook_run_steps, playbook_runs


def seconds_between(
    dialect: str, start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> ColumnElement[float]:
    """`end - start` in seconds, in SQL, on either dialect."""
    if dialect == "sqlite":
        # Stored as naive UTC text. julianday is a double of days (about 10 microseconds of
        # precision): rounding to the millisecond keeps 600 s in the `le="600"` bucket.
        return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)
    return cast(func.extract("epoch", end - start), Float)


@dataclass(frozen=True, slots=True)
class BucketRow:
    """Observations of one label set that fell into one bucket (index into the bounds)."""

    labels: tuple[str, ...]
    bucket: int
    count: int
    total: float


def histogram_rows(
    conn: Connection,
    *,
    labels: Sequence[Column[str]],
    duration: ColumnElement[float],
    where: Sequence[ColumnElement[bool]],
    bounds: Sequence[float],
) -> list[BucketRow]:
    """Count and sum durations per label set and bucket; buckets are `d <= bounds[i]`."""
    inner = select(*labels, duration.label("d")).where(*where)
    if conn.dialect.name == "sqlite":
        # A LIMIT keeps SQLite from flattening the subquery into the CASE below, which
        # would compute the duration once per bucket instead of once per row.
        inner = inner.limit(-1)
    sub = inner.subquery()
    d = sub.c.d
    bucket = _bucket_of(d, bounds, 0, len(bounds)).label("bucket")
    names = [sub.c[c.name] for c in labels]
    query = select(*names, bucket, func.count(), func.coalesce(func.sum(d), 0.0)).group_by(
        *names, literal_column("bucket")
    )
    out = []
    for row in conn.execute(query):
        n = len(names)
        out.append(
            BucketRow(
                labels=tuple(str(v) for v in row[:n]),
                bucket=int(row[n]),
                count=int(row[n + 1]),
                total=float(row[n + 2]),
            )
        )
    return out


def _bucket_of(
    d: ColumnElement[float], bounds: Sequence[float], lo: int, hi: int
) -> ColumnElement[int]:
    """The bucket index of `d` as a balanced tree of CASEs: about log2(n) comparisons per
    row instead of n (the comparisons were most of a scrape's cost at 60k steps)."""
    if lo == hi:
        return literal(lo)
    mid = (lo + hi) // 2
    return case(
        (d <= bounds[mid], _bucket_of(d, bounds, lo, mid)), else_=_bucket_of(d, bounds, mid + 1, hi)
    )


def _episode_start() -> ColumnElement[datetime]:
    # A reopened incident's clock restarts: reopen clears the later stamps (model.transition).
    return func.coalesce(incidents.c.reopened_at, incidents.c.detected_at)


INCIDENT_STAMPS = {
    "acknowledge": incidents.c.acknowledged_at,
    "mitigate": incidents.c.mitigated_at,
    "resolve": incidents.c.resolved_at,
}


def incident_durations(
    conn: Connection, stamp: str, bounds: Sequence[float], since: datetime | None = None
) -> list[BucketRow]:
    """Time from detection (or the last reopening) to `stamp`, per (type, severity)."""
    end = INCIDENT_STAMPS[stamp]
    where: list[ColumnElement[bool]] = [end.is_not(None)]
    if since is not None:
        where.append(incidents.c.detected_at >= since)
    return histogram_rows(
        conn,
        labels=[incidents.c.type, incidents.c.severity],
        duration=seconds_between(conn.dialect.name, _episode_start(), end),
        where=where,
        bounds=bounds,
    )


def step_durations(conn: Connection, bounds: Sequence[float]) -> list[BucketRow]:
    """Duration of every finished playbook step, per (action, status); dry runs excluded."""
    steps, runs = playbook_run_steps, playbook_runs
    inner_where = [steps.c.started_at.is_not(None), steps.c.ended_at.is_not(None)]
    dry = select(runs.c.id).where(runs.c.dry_run.is_(True))
    inner_where.append(steps.c.run_id.not_in(dry))
    return histogram_rows(
        conn,
        labels=[steps.c.action, steps.c.status],
        duration=seconds_between(conn.dialect.name, steps.c.started_at, steps.c.ended_at),
        where=inner_where,
        bounds=bounds,
    )


@dataclass(frozen=True, slots=True)
class IncidentCount:
    type: str
    severity: str
    status: str
    count: int
    reopens: int


def incident_counts(conn: Connection) -> list[IncidentCount]:
    query = select(
        incidents.c.type,
        incidents.c.severity,
        incidents.c.status,
        func.count(),
        func.coalesce(func.sum(incidents.c.reopen_count), 0),
    ).group_by(incidents.c.type, incidents.c.severity, incidents.c.status)
    return [
        IncidentCount(str(t), str(s), str(st), int(n), int(r))
        for t, s, st, n, r in conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class RunCount:
    playbook: str
    status: str
    count: int


def run_counts(conn: Connection) -> list[RunCount]:
    query = (
        select(playbook_runs.c.playbook, playbook_runs.c.status, func.count())
        .where(playbook_runs.c.dry_run.is_(False))
        .group_by(playbook_runs.c.playbook, playbook_runs.c.status)
    )
    return [RunCount(str(p), str(s), int(n)) for p, s, n in conn.execute(query)]


def oldest_busy_run(conn: Connection) -> datetime | None:
    """When the oldest run that is pending or running (not waiting for a person) was made."""
    query = select(func.min(playbook_runs.c.created_at)).where(
        playbook_runs.c.status.in_(["pending", "running"]), playbook_runs.c.dry_run.is_(False)
    )
    value = conn.execute(query).scalar()
    return _aware(value)


def executors_seen_since(conn: Connection, since: datetime) -> int:
    query = select(func.count()).where(
        engine_heartbeats.c.seen_at >= since, engine_heartbeats.c.recovered_at.is_(None)
    )
    return int(conn.execute(query).scalar_one())


def _aware(value: object) -> datetime | None:
    # min() bypasses the column type's result processing on SQLite: parse it here.
    if value is None:
        return None
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ReportRow:
    type: str
    severity: str
    status: str
    systems: list[str]
    detected_at: datetime
    reopened_at: datetime | None
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    reopen_count: int
    mitigated_by: str | None  # the actor of the latest move to mitigated


def report_rows(conn: Connection, since: datetime | None) -> list[ReportRow]:
    """Incidents detected since `since` with what the report needs (one row each)."""
    from defib.store.tables import timeline_events

    i = incidents
    query = select(
        i.c.seq,
        i.c.type,
        i.c.severity,
        i.c.status,
        i.c.affected_systems,
        i.c.detected_at,
        i.c.reopened_at,
        i.c.acknowledged_at,
        i.c.mitigated_at,
        i.c.resolved_at,
        i.c.reopen_count,
    )
    if since is not None:
        query = query.where(i.c.detected_at >= since)
    rows = conn.execute(query.order_by(i.c.seq)).all()
    # Who mitigated: transitions are few per incident; JSON filters differ per dialect, so
    # the `to` is checked here.
    movers: dict[int, str] = {}
    seqs = [r.seq for r in rows if r.mitigated_at is not None]
    for chunk in range(0, len(seqs), 500):
        part = seqs[chunk : chunk + 500]
        events = conn.execute(
            select(timeline_events.c.incident_seq, timeline_events.c.actor, timeline_events.c.data)
            .where(
                timeline_events.c.incident_seq.in_(part),
                timeline_events.c.kind == TimelineKind.TRANSITION,
            )
            .order_by(timeline_events.c.id)
        )
        for seq, actor, data in events:
            if isinstance(data, dict) and data.get("to") == "mitigated":
                movers[seq] = actor
    return [
        ReportRow(
            type=r.type,
            severity=r.severity,
            status=r.status,
            systems=list(r.affected_systems),
            detected_at=r.detected_at,
            reopened_at=r.reopened_at,
            acknowledged_at=r.acknowledged_at,
            mitigated_at=r.mitigated_at,
            resolved_at=r.resolved_at,
            reopen_count=r.reopen_count,
            mitigated_by=movers.get(r.seq),
        )
        for r in rows
    ]
