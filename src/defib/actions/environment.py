"""What the real actions need beyond their context: settings, the database, an HTTP transport.

The engine hands an action only its `ActionContext`, so the environment is found here:
one bound explicitly (`bind`: tests, embedders), else the settings this process built for
the launched engine's database (`settings_for_database`), else `load_settings()` from the
environment and `DEFIB_CONFIG`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from defib.config import Settings, load_settings, settings_for_database
from defib.store.database import Database


@dataclass(frozen=True, slots=True)
class ActionEnvironment:
    settings: Settings
    db: Database
    # None: a real network transport. Tests may inject any httpx transport.
    http_transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def http_client(self) -> httpx.AsyncClient:
        timeout = self.settings.notifications.timeout_seconds
        return httpx.AsyncClient(transport=self.http_transport, timeout=timeout)


class _Slot:
    bound: ActionEnvironment | None = None
    fallback: ActionEnvironment | None = None
    lock = threading.Lock()


_slot = _Slot()


def bind(env: ActionEnvironment | None) -> None:
    """Use `env` for every action in this process (None: go back to discovery)."""
    _slot.bound = env


def current() -> ActionEnvironment:
    if _slot.bound is not None:
        return _slot.bound
    db = _engine_database()
    if db is not None:
        settings = settings_for_database(db.url) or load_settings()
        return ActionEnvironment(settings, db)
    with _slot.lock:
        if _slot.fallback is None:
            settings = load_settings()
            _slot.fallback = ActionEnvironment(settings, Database(settings.resolved_database_url))
        return _slot.fallback


def _engine_database() -> Database | None:
    # Imported here: the engine imports the actions package.
    from defib.playbooks.engine import current_engine

    try:
        return current_engine().db
    except RuntimeError:
        return None
