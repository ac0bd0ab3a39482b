"""Repository functions for API tokens. Only hashes are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from defib.auth import Principal, Role, hash_token, hashes_match, token_display_prefix
from defib.model import InvalidInput, NotFound
from defib.store.tables import api_tokens


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


def create_token(
    conn: Connection, *, name: str, role: Role, token: str, created_by: str, now: datetime
) -> TokenRecord:
    try:
        with conn.begin_nested():
            token_id = conn.execute(
                insert(api_tokens)
                .values(
                    name=name,
                    role=role.value,
                    token_hash=hash_token(token),
                    prefix=token_display_prefix(token),
                    created_at=now,
                    created_by=created_by,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise InvalidInput(f"name: an active token named {name!r} already exists") from exc
    return TokenRecord(token_id, name, role, token_display_prefix(token), now, created_by, None)


def list_tokens(conn: Connection, *, include_revoked: bool = False) -> list[TokenRecord]:
    query = select(api_tokens).order_by(api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [
        TokenRecord(
            r["id"],
            r["name"],
            Role(r["role"]),
            r["prefix"],
            r["created_at"],
            r["created_by"],
            r["revoked_at"],
        )
        for r in conn.execute(query).mappings()
    ]


def count_active_tokens(conn: Connection) -> int:
    return len(list_tokens(conn))


def revoke_stale(
    conn: Connection, name_prefix: str, created_before: datetime, now: datetime
) -> int:
    """Revoke active tokens whose name starts with `name_prefix`, created before a time."""
    result = conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.name.startswith(name_prefix, autoescape=True),
            api_tokens.c.created_at < created_before,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


def revoke_token(conn: Connection, name: str, now: datetime) -> None:
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount == 0:
        raise NotFound(f"no active token named {name!r}")


def authenticate(conn: Connection, token: str) -> Principal | None:
    """The active token's principal, or None (looked up by hash, compared in constant time)."""
    digest = hash_token(token)
    row = conn.execute(
        select(api_tokens.c.name, api_tokens.c.role, api_tokens.c.token_hash).where(
            api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    if row is None or not hashes_match(row.token_hash, digest):
        return None
    return Principal(name=row.name, role=Role(row.role))


def principal_for_hash(conn: Connection, digest: str) -> Principal | None:
    """The active token with this SHA-256 (a console session names its token by hash)."""
    row = conn.execute(
        select(api_tokens.c.name, api_tokens.c.role).where(
            api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    return Principal(name=row.name, role=Role(row.role)) if row is not None else None
