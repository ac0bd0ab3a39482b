"""Action fixtures: loopback peers, runtimes with a systems: config, an in-process worker."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from defib.bootstrap import Runtime
from tests.support.actions.peers import ChatPeer, HttpPeer, MailPeer, self_signed_cert

# The engine's fixtures, shared: fast engine timings (autouse) and a user playbook directory.
from tests.support.engine import _fast_engine, playbook_dir  # noqa: F401


@pytest.fixture
def http_peer() -> Iterator[HttpPeer]:
    peer = HttpPeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def chat_peer() -> Iterator[ChatPeer]:
    peer = ChatPeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def mail_peer() -> Iterator[MailPeer]:
    peer = MailPeer().start()
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def systems_config(http: HttpPeer, mail: MailPeer | None) -> dict[str, Any]:
    """chat-api with every channel pointed at the loopback peers."""
    config: dict[str, Any] = {
        "systems": [
            {
                "name": "chat-api",
                "tier": 1,
                "owners": {
                    "team": "assistants",
                    "slack_webhook": f"{http.url}/slack/T000/B000/XXXX",
                    "emails": ["oncall@example.com", "lead@example.com"],
                    "pagerduty_routing_key": "R0UT1NGKEY",
                    "security_contacts": ["security@example.com"],
                    "webhooks": [{"url": f"{http.url}/hook", "secret_env": "TEST_HOOK_SECRET"}],
                },
            }
        ],
        "notifications": {
            "pagerduty": {"events_url": f"{http.url}/pd/v2/enqueue"},
            "retries": {"attempts": 3, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        },
    }
    if mail is not None:
        config["notifications"]["smtp"] = {
            "host": "127.0.0.1",
            "port": mail.port,
            "from": "defib@example.org",
        }
    return config


@pytest.fixture
def start_worker() -> Iterator[Callable[[Runtime], None]]:
    from defib.playbooks.engine.worker import Worker

    workers: list[Worker] = []

    def start(rt: Runtime) -> None:
        workers.append(
            Worker(rt.engine, executor_id=f"t-{os.getpid()}-{time.monotonic_ns()}").start()
        )

    yield start
    for w in workers:
        w.stop()
