"""Signal fixtures: the API app on a real Runtime (both databases), tokens, the demo model."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.gateway import demo_upstream
from defib.gateway.server import ThreadedServer
from defib.model import Incident
from defib.signals.hub import SignalHub
from defib.store import incidents as incident_repo
from defib.store import tokens as token_repo
from defib.store.tables import alerts
from tests.support.signals.serve import Serve


@pytest.fixture(scope="session")
def upstream() -> Iterator[ThreadedServer]:
    server = demo_upstream.start()
    yield server
    server.stop()


def make_tokens(runtime: Runtime) -> dict[Role, str]:
    out = {}
    with runtime.db.write() as conn:
        for role in Role:
            token = generate_token()
            token_repo.create_token(
                conn, name=f"{role.value}-bot", role=role, token=token, created_by="t", now=utcnow()
            )
            out[role] = token
    return out


class Api:
    """The API in-process, an ingest token set, and ways to wait for what signals cause."""

    def __init__(self, runtime: Runtime, client: TestClient, tokens: dict[Role, str]) -> None:
        self.runtime = runtime
        self.client = client
        self.tokens = tokens
        client.headers["Authorization"] = f"Bearer {tokens[Role.INGEST]}"

    @property
    def hub(self) -> SignalHub:
        hub: SignalHub = self.client.app.state.signals  # type: ignore[attr-defined]
        return hub

    def incidents(self, timeout: float = 15.0, **filters: Any) -> list[Incident]:
        """Incidents matching `filters`, waiting until at least one is there."""
        deadline = time.monotonic() + timeout
        while True:
            self.hub.drain()
            found, _ = self.runtime.incidents.search(incident_repo.IncidentFilter(**filters))
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def alert_payloads(self) -> list[dict[str, Any]]:
        with self.runtime.db.read() as conn:
            return list(conn.execute(select(alerts.c.payload)).scalars().all())


@pytest.fixture
def start_api(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def start(**settings: Any) -> Api:
        runtime = make_runtime(**settings)
        client = TestClient(create_app(runtime))
        client.__enter__()
        clients.append(client)
        return Api(runtime, client, make_tokens(runtime))

    yield start
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def serve(tmp_path: Path, upstream: ThreadedServer) -> Iterator[Serve]:
    versions = [
        {"name": "v1", "upstream": f"{upstream.url}/v1", "model": "demo-v1"},
        {"name": "v2", "upstream": f"{upstream.url}/v1", "model": "demo-v2"},
    ]
    server = Serve(
        tmp_path,
        [
            {"name": "support-bot", "versions": versions},
            {
                "name": "slow-bot",
                "versions": versions,
                "gateway": {"slo": {"latency_threshold_ms": 300}},
            },
        ],
    )
    yield server
    server.stop()
