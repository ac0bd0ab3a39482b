"""On-call fixtures: loopback peers and an in-process worker (shared with the action tests)."""

from __future__ import annotations

from typing import Any

from tests.support.actions import _fast_engine, http_peer, mail_peer, start_worker  # noqa: F401
from tests.support.actions.peers import HttpPeer, MailPeer


def oncall_config(
    http: HttpPeer, mail: MailPeer | None = None, *, level2_after: str = "2s", repeat: int = 0
) -> dict[str, Any]:
    """chat-api paged per `ml-default`: level 1 the `ml-primary` schedule (alice, bob by
    the week), level 2 carol after `level2_after`; each person a webhook on the peer."""
    config: dict[str, Any] = {
        "people": [
            {"name": "alice", "webhook": f"{http.url}/alice", "email": "alice@example.com"},
            {"name": "bob", "webhook": f"{http.url}/bob"},
            {"name": "carol", "webhook": f"{http.url}/carol"},
        ],
        "schedules": [
            {
                "name": "ml-primary",
                "time_zone": "Europe/Berlin",
                "rotations": [
                    {"people": ["alice", "bob"], "shift": "1w", "handoff": "monday 09:00"}
                ],
            }
        ],
        "escalation_policies": [
            {
                "name": "ml-default",
                "repeat": repeat,
                "repeat_after": "1s",
                "levels": [
                    {"after": "0s", "notify": [{"schedule": "ml-primary"}]},
                    {"after": level2_after, "notify": [{"person": "carol"}]},
                ],
            }
        ],
        "systems": [
            {"name": "chat-api", "owners": {"team": "ml", "escalation_policy": "ml-default"}}
        ],
        "notifications": {
            "retries": {"attempts": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05}
        },
    }
    if mail is not None:
        config["notifications"]["smtp"] = {
            "host": "127.0.0.1",
            "port": mail.port,
            "from": "defib@example.org",
        }
    return config
