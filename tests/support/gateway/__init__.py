"""A real OpenAI-compatible upstream (the demo model) and a real gateway on loopback.

The gateway runs in-process under uvicorn (a thread) on the test's database; tests talk to
it with the official `openai` client, as a team's code would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from openai import OpenAI

from defib.bootstrap import Runtime
from defib.gateway import demo_upstream
from defib.gateway.app import build_gateway, create_gateway_app
from defib.gateway.proxy import Gateway
from defib.gateway.server import ThreadedServer
from defib.store import systems as systems_repo
from defib.systems.state import Capture, SystemState
from defib.testing import free_port

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FOREVER = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def upstream() -> Iterator[ThreadedServer]:
    server = demo_upstream.start()
    yield server
    server.stop()


def versions(upstream_url: str) -> list[dict[str, Any]]:
    """v1 behaves; v2 leaks personal data when asked about a customer."""
    return [
        {"name": "v1", "upstream": f"{upstream_url}/v1", "model": "demo-v1"},
        {"name": "v2", "upstream": f"{upstream_url}/v1", "model": "demo-v2"},
    ]


def system(name: str, upstream_url: str, **overrides: Any) -> dict[str, Any]:
    gateway = {"detect": [], **overrides.pop("gateway", {})}
    return {"name": name, "versions": versions(upstream_url), "gateway": gateway, **overrides}


@dataclass
class Running:
    runtime: Runtime
    gateway: Gateway
    server: ThreadedServer

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, system: str | None = None, key: str = "unused") -> OpenAI:
        base = f"{self.url}/systems/{system}/v1" if system else f"{self.url}/v1"
        return OpenAI(base_url=base, api_key=key, max_retries=0, timeout=20)

    def change(self, name: str, change: Callable[[SystemState], SystemState]) -> SystemState:
        """Write a new state revision, as the control plane does."""
        with self.runtime.db.write() as conn:
            state = systems_repo.get_state(conn, name, for_update=True)
            assert state is not None
            return systems_repo.save_state(conn, change(state), "test", datetime.now(UTC))

    def wait_applied(self, state: SystemState, timeout: float = 10.0) -> None:
        """Until the gateway's cache holds `state`'s revision (it polls the database)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.gateway.state.get(state.system)
            if entry is not None and entry.state.revision >= state.revision:
                return
            time.sleep(0.02)
        raise AssertionError(f"the gateway did not pick up revision {state.revision}")

    def captures(self, name: str) -> list[Capture]:
        # A streamed answer reaches the client before its relay hands the exchange over.
        deadline = time.monotonic() + 10
        while self.gateway.relaying and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.gateway.post.drain()
        with self.runtime.db.read() as conn:
            return systems_repo.captures_between(conn, [name], EPOCH, FOREVER)


@dataclass
class GatewayFactory:
    make_runtime: Callable[..., Runtime]
    started: list[Running] = field(default_factory=list)

    def __call__(self, systems: list[dict[str, Any]], **gateway: Any) -> Running:
        port = free_port()
        # Most tests are about routing, not keys: anonymous callers allowed unless a test
        # says otherwise (the secure default has its own tests).
        settings = {"port": port, "state_refresh_seconds": 0.1, "allow_anonymous": True, **gateway}
        runtime = self.make_runtime(systems=systems, gateway=settings)
        gw = build_gateway(runtime)
        server = ThreadedServer(create_gateway_app(gw), "127.0.0.1", port).start()
        running = Running(runtime, gw, server)
        self.started.append(running)
        return running


@pytest.fixture
def start_gateway(make_runtime: Callable[..., Runtime]) -> Iterator[GatewayFactory]:
    factory = GatewayFactory(make_runtime)
    yield factory
    for running in factory.started:
        running.server.stop()


sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
