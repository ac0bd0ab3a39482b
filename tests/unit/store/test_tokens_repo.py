"""Token storage: revoking stale probe tokens (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from defib.auth import Role, generate_token
from defib.store import tokens as repo
from defib.store.database import Database

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _create(db: Database, name: str, at: datetime) -> None:
    with db.write() as conn:
        repo.create_token(
            conn, name=name, role=Role.RESPONDER, token=generate_token(), created_by="t", now=at
        )


def test_revoke_stale_takes_only_old_tokens_with_the_prefix(db: Database) -> None:
    """A probe token left by a crash is revoked once old; fresh ones and others stay."""
    _create(db, "probe-old", T0)
    _create(db, "probe-new", T0 + timedelta(minutes=20))
    _create(db, "alice", T0)
    with db.write() as conn:
        revoked = repo.revoke_stale(conn, "probe-", T0 + timedelta(minutes=10), T0)
    assert revoked == 1
    with db.read() as conn:
        active = sorted(t.name for t in repo.list_tokens(conn))
    assert active == ["alice", "probe-new"]
