"""Repository functions for system state, model versions and gateway captures.

Callers own the transaction. `save_state` bumps `revision`, which is how gateway replicas
notice a change when they poll.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from defib.store.tables import captures, model_versions, system_state
from defib.systems.state import (
    Capture,
    ModelVersion,
    OutputFilter,
    SystemState,
    VersionStatus,
)


def _state(row: RowMapping) -> SystemState:
    return SystemState(
        system=row["system"],
        disabled=bool(row["disabled"]),
        disabled_by=row["disabled_by"],
        disabled_reason=row["disabled_reason"],
        active_version=row["active_version"],
        filters=tuple(OutputFilter.from_dict(f) for f in row["filters"]),
        revision=row["revision"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


def get_state(conn: Connection, system: str, *, for_update: bool = False) -> SystemState | None:
    query = select(system_state).where(system_state.c.system == system)
    if for_update and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return _state(row) if row is not None else None


def all_states(conn: Connection) -> list[SystemState]:
    rows = conn.execute(select(system_state).order_by(system_state.c.system)).mappings()
    return [_state(r) for r in rows]


def revisions(conn: Connection) -> dict[str, int]:
    """system -> revision: a cheap poll for replicas that cache the states."""
    rows = conn.execute(select(system_state.c.system, system_state.c.revision))
    return {r.system: r.revision for r in rows}


def save_state(conn: Connection, state: SystemState, actor: str, now: datetime) -> SystemState:
    """Write `state` as the next revision of its system (insert on first save)."""
    values: dict[str, Any] = {
        "disabled": state.disabled,
        "disabled_by": state.disabled_by,
        "disabled_reason": state.disabled_reason,
        "active_version": state.active_version,
        "filters": [f.to_dict() for f in state.filters],
        "updated_at": now,
        "updated_by": actor,
    }
    result = conn.execute(
        update(system_state)
        .where(system_state.c.system == state.system)
        .values(revision=system_state.c.revision + 1, **values)
        .returning(system_state.c.revision)
    ).first()
    if result is None:
        conn.execute(insert(system_state).values(system=state.system, revision=1, **values))
        revision = 1
    else:
        revision = result.revision
    return replace(state, revision=revision, updated_at=now, updated_by=actor)


def ensure_state(
    conn: Connection, system: str, initial_version: str | None, now: datetime
) -> SystemState:
    """The system's state, created (enabled, serving `initial_version`) if it has none."""
    existing = get_state(conn, system, for_update=True)
    if existing is not None:
        return existing
    return save_state(conn, SystemState(system, active_version=initial_version), "config", now)


# -- model versions -----------------------------------------------------------------------


def _version(row: RowMapping) -> ModelVersion:
    return ModelVersion(
        system=row["system"],
        name=row["name"],
        ordinal=row["ordinal"],
        status=VersionStatus(row["status"]),
        marked_by=row["marked_by"],
        marked_at=row["marked_at"],
        note=row["note"],
        first_served_at=row["first_served_at"],
        last_served_at=row["last_served_at"],
    )


def list_versions(conn: Connection, system: str) -> list[ModelVersion]:
    rows = conn.execute(
        select(model_versions)
        .where(model_versions.c.system == system)
        .order_by(model_versions.c.ordinal)
    ).mappings()
    return [_version(r) for r in rows]


def get_version(conn: Connection, system: str, name: str) -> ModelVersion | None:
    row = (
        conn.execute(
            select(model_versions).where(
                model_versions.c.system == system, model_versions.c.name == name
            )
        )
        .mappings()
        .first()
    )
    return _version(row) if row is not None else None


def ensure_versions(conn: Connection, system: str, names: Sequence[str]) -> None:
    """Register versions (oldest first) that are not known yet, keeping existing marks.

    Ordinals follow the given order; a version registered later sorts after all earlier ones.
    """
    known = {v.name: v.ordinal for v in list_versions(conn, system)}
    top = max(known.values(), default=-1)
    for name in names:
        if name in known:
            continue
        top += 1
        conn.execute(insert(model_versions).values(system=system, name=name, ordinal=top))
        known[name] = top


def mark_version(
    conn: Connection,
    system: str,
    name: str,
    status: VersionStatus,
    actor: str,
    note: str,
    now: datetime,
) -> ModelVersion | None:
    """Mark a version good, bad or unknown; None if the version is not registered."""
    result = conn.execute(
        update(model_versions)
        .where(model_versions.c.system == system, model_versions.c.name == name)
        .values(status=status.value, marked_by=actor, marked_at=now, note=note)
    )
    if result.rowcount == 0:
        return None
    return get_version(conn, system, name)


def note_served(conn: Connection, system: str, name: str, now: datetime) -> None:
    """Record that `name` is in service at `now` (first time and latest time)."""
    conn.execute(
        update(model_versions)
        .where(model_versions.c.system == system, model_versions.c.name == name)
        .values(
            first_served_at=func.coalesce(model_versions.c.first_served_at, now),
            last_served_at=now,
        )
    )


# -- captures -----------------------------------------------------------------------------


def _capture(row: RowMapping) -> Capture:
    return Capture(
        id=row["id"],
        system=row["system"],
        version=row["version"],
        at=row["at"],
        request_id=row["request_id"],
        user_id=row["user_id"],
        endpoint=row["endpoint"],
        prompt=row["prompt"],
        response=row["response"],
        masked=bool(row["masked"]),
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        streamed=bool(row["streamed"]),
        blocked=bool(row["blocked"]),
        findings=tuple(row["findings"]),
    )


def insert_captures(conn: Connection, items: Iterable[Capture]) -> int:
    rows = [
        {
            "system": c.system,
            "version": c.version,
            "at": c.at,
            "request_id": c.request_id,
            "user_id": c.user_id,
            "endpoint": c.endpoint,
            "prompt": c.prompt,
            "response": c.response,
            "masked": c.masked,
            "status_code": c.status_code,
            "latency_ms": c.latency_ms,
            "streamed": c.streamed,
            "blocked": c.blocked,
            "findings": [dict(f) for f in c.findings],
        }
        for c in items
    ]
    if rows:
        conn.execute(insert(captures), rows)
    return len(rows)


def captures_between(
    conn: Connection,
    systems: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    limit: int = 10_000,
) -> list[Capture]:
    """Captures of `systems` with start <= at <= end, oldest first, at most `limit`."""
    rows = conn.execute(
        select(captures)
        .where(captures.c.system.in_(list(systems)), captures.c.at >= start, captures.c.at <= end)
        .order_by(captures.c.at, captures.c.id)
        .limit(limit)
    ).mappings()
    return [_capture(r) for r in rows]


def prune_captures(conn: Connection, system: str, before: datetime) -> int:
    result = conn.execute(
        delete(captures).where(captures.c.system == system, captures.c.at < before)
    )
    return int(result.rowcount or 0)
