"""What the real actions need beyond their context: settings, the database, the services
they act through, a clock, the process's secrets and an HTTP transport.

The Runtime (`defib.bootstrap`) builds each service once and one `ActionEnvironment` that
carries them; the engine puts it on every `ActionContext` (`ctx.env`). Actions never build
a service, read a process global or the environment themselves, and the actions package
never imports the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from defib.clock import Clock, utcnow
from defib.config import Settings
from defib.evidence import EvidenceService
from defib.incidents.lifecycle import IncidentService
from defib.integrations.tls import verify_context
from defib.store.database import Database
from defib.systems.control import ControlService


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionEnvironment:
    settings: Settings
    db: Database
    # The process's services (one each, shared with the API and the console).
    control: ControlService
    evidence: EvidenceService  # one shared blob store and checkpoint anchor per process
    incidents: IncidentService
    clock: Clock = utcnow
    # Where `*_env` settings (secrets named by the configuration) are looked up: the
    # Runtime passes the process environment; tests pass a plain dict.
    secrets: Mapping[str, str] = field(default_factory=dict)
    # None: a real network transport. Tests may inject any httpx transport.
    http_transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def secret(self, name: str) -> str | None:
        """The secret an `*_env` setting names (None when it is not set)."""
        return self.secrets.get(name)

    def http_client(self, timeout: float | None = None) -> httpx.AsyncClient:
        """A client on the process's TLS context; `timeout` defaults to notifications'."""
        if timeout is None:
            timeout = self.settings.notifications.timeout_seconds
        return httpx.AsyncClient(
            transport=self.http_transport, timeout=timeout, verify=verify_context()
        )
