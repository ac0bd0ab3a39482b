"""What the real actions need beyond their context: settings, the database, a clock and an
HTTP transport.

The Runtime builds one `ActionEnvironment` and hands it to the engine, which puts it on
every `ActionContext` (`ctx.env`): actions never look it up in a process global, and the
actions package never imports the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from defib.config import Settings
from defib.evidence import EvidenceService
from defib.integrations.tls import verify_context
from defib.store.database import Database


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ActionEnvironment:
    settings: Settings
    db: Database
    # None: a real network transport. Tests may inject any httpx transport.
    http_transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], datetime] = _utcnow
    # The process's evidence service (shared blob store, one checkpoint anchor); None: each
    # action builds one from the settings.
    evidence: EvidenceService | None = None

    def http_client(self, timeout: float | None = None) -> httpx.AsyncClient:
        """A client on the process's TLS context; `timeout` defaults to notifications'."""
        if timeout is None:
            timeout = self.settings.notifications.timeout_seconds
        return httpx.AsyncClient(
            transport=self.http_transport, timeout=timeout, verify=verify_context()
        )
