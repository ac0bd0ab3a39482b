"""Secrets every replica must share (`shared_secrets`): made once, by whoever comes first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from defib.store.tables import shared_secrets
from defib.store.upsert import per_dialect, pick

_PUT = per_dialect(lambda ins: ins(shared_secrets).on_conflict_do_nothing(index_elements=["name"]))


def get_or_create(conn: Connection, name: str, candidate: str, now: datetime) -> str:
    """The stored value of `name`; `candidate` becomes it if there is none yet. Of two
    processes racing, the second insert does nothing and both read the first's value."""
    conn.execute(pick(conn, _PUT).values(name=name, value=candidate, created_at=now))
    return str(
        conn.execute(
            select(shared_secrets.c.value).where(shared_secrets.c.name == name)
        ).scalar_one()
    )
