"""What the real actions need beyond their context: settings, the database, an HTTP transport.

The engine hands an action only its `ActionContext`, so the environment is found here:
one bound explicitly (`bind`: tests, embedders), else the launched engine's database and
the settings its runtime was built with, else `load_settings()` from the environment and
`DEFIB_CONFIG`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from defib.config import Settings, load_settings
from defib.store.database import Database

if TYPE_CHECKING:
    from defib.playbooks.engine import PlaybookEngine


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
    engine = _launched_engine()
    if engine is not None:
        return ActionEnvironment(engine.settings or load_settings(), engine.db)
    with _slot.lock:
        if _slot.fallback is None:
            settings = load_settings()
            _slot.fallback = ActionEnvironment(settings, Database(settings.resolved_database_url))
        return _slot.fallback


def _launched_engine() -> PlaybookEngine | None:
    # Imported here: the engine imports the actions package.
    from defib.playbooks.engine import current_engine

    try:
        return current_engine()
    except RuntimeError:
        return None
