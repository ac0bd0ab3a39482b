"""Roles, permissions and API token hashing (pure; storage lives in store.tokens)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "defib_"


class Role(enum.StrEnum):
    INGEST = "ingest"
    VIEWER = "viewer"
    RESPONDER = "responder"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    INGEST = "alerts:write"
    READ = "read"
    RESPOND = "incidents:write"
    ADMIN = "admin"


# ingest is a machine role: it may post alerts and nothing else, not even read.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INGEST: frozenset({Permission.INGEST}),
    Role.VIEWER: frozenset({Permission.READ}),
    Role.RESPONDER: frozenset({Permission.READ, Permission.RESPOND, Permission.INGEST}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name is the actor on the timeline."""

    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


ANONYMOUS_ADMIN = Principal(name="anonymous", role=Role.ADMIN)


def generate_token() -> str:
    """A bearer token: prefix + 256 bits of randomness, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 is enough: tokens carry 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_display_prefix(token: str) -> str:
    return token[: len(TOKEN_PREFIX) + 4]


def hashes_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
