"""A small TTL cache of token -> principal in front of the token table.

One per process (the Runtime builds it); the API's and the gateway's authentication both
read through it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from defib.auth import Principal
from defib.store import tokens as token_repo
from defib.store.database import Database

# Revocation takes effect within this many seconds; it saves a query per request.
TOKEN_CACHE_SECONDS = 5.0


@dataclass
class TokenCache:
    """A small TTL cache of token -> principal in front of the token table."""

    db: Database
    ttl: float = TOKEN_CACHE_SECONDS
    _entries: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, token: str) -> tuple[bool, Principal | None]:
        """(True, principal) on a fresh cache entry; (False, None) when a lookup is needed."""
        with self._lock:
            hit = self._entries.get(token)
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def lookup(self, token: str) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(token)
            if hit is not None and hit[0] > now:
                return hit[1]
        with self.db.read() as conn:
            principal = token_repo.authenticate(conn, token)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token] = (now + self.ttl, principal)
        return principal

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
