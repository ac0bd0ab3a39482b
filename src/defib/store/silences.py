"""Repository functions for silences (and maintenance windows, which are silences too)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from defib.model import NotFound
from defib.silences import Matcher, Silence, Weekly
from defib.store.tables import silences


def _from_row(row: RowMapping) -> Silence:
    schedule = row["schedule"]
    return Silence(
        id=row["id"],
        matchers=tuple(Matcher.from_dict(m) for m in row["matchers"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_by=row["created_by"],
        comment=row["comment"],
        updated_at=row["updated_at"],
        schedule=Weekly.from_dict(schedule) if schedule else None,
        name=row["name"],
    )


def _values(s: Silence) -> dict[str, Any]:
    return {
        "matchers": [m.to_dict() for m in s.matchers],
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "created_by": s.created_by,
        "comment": s.comment,
        "updated_at": s.updated_at,
        "schedule": s.schedule.to_dict() if s.schedule else None,
        "name": s.name,
    }


def insert_silence(conn: Connection, s: Silence) -> Silence:
    conn.execute(insert(silences).values(id=s.id, **_values(s)))
    return s


def update_silence(conn: Connection, s: Silence) -> Silence:
    conn.execute(update(silences).where(silences.c.id == s.id).values(**_values(s)))
    return s


def get_silence(conn: Connection, silence_id: str, *, for_update: bool = False) -> Silence:
    query = select(silences).where(silences.c.id == silence_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no silence {silence_id!r}")
    return _from_row(row)


def find_by_name(conn: Connection, name: str) -> Silence | None:
    row = conn.execute(select(silences).where(silences.c.name == name)).mappings().first()
    return _from_row(row) if row is not None else None


def list_silences(conn: Connection, *, unexpired_at: datetime | None = None) -> list[Silence]:
    """Newest first; with `unexpired_at`, only those not yet expired then."""
    query = select(silences).order_by(silences.c.updated_at.desc(), silences.c.id)
    if unexpired_at is not None:
        query = query.where(silences.c.ends_at > unexpired_at)
    return [_from_row(r) for r in conn.execute(query).mappings()]


def named(conn: Connection) -> list[Silence]:
    query = select(silences).where(silences.c.name.is_not(None))
    return [_from_row(r) for r in conn.execute(query).mappings()]
