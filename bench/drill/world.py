"""What the storm runs: the configuration, a custom playbook using every action kind, and
the alerts that start every playbook (pure: dicts and text, no I/O)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

CLIENT_KEY = "storm-client-key"
# One system per incident: a rollback takes v2 -> v1 once; a second incident on the same
# system would find no older known-good version.
TYPES = ("hallucination", "toxicity", "data_leak", "performance", "bias")
PLAYBOOK_OF = {
    "hallucination": "hallucination",
    "toxicity": "toxicity",
    "data_leak": "data_leak",
    "performance": "generic",
    "bias": "storm",
}


# On call: every incident pages whoever of PEOPLE holds the schedule at once, and both
# LEVEL_SECONDS later (level 2); short, so the escalation runs end inside the storm and
# keep its length (the playbook's mitigation, or an acknowledge, stops them earlier).
POLICY = "storm-oncall"
SCHEDULE = "storm-primary"
PEOPLE = ("pager-a", "pager-b")
PAGE_PATH = "/page/"
LEVEL_SECONDS = 2


@dataclass(frozen=True, slots=True)
class Peers:
    webhook: str
    slack: str
    pagerduty: str
    smtp_port: int
    model: str  # the demo model's OpenAI-compatible base URL (…/v1)


def system_name(i: int) -> str:
    return f"sys-{i:04d}"


def type_of(i: int) -> str:
    """The incident type the storm's alerts raise on system i."""
    return TYPES[i % len(TYPES)]


def system(i: int, peers: Peers) -> dict[str, Any]:
    return {
        "name": system_name(i),
        "tier": 1,
        "owners": {
            "team": f"team-{i}",
            "slack_webhook": f"{peers.slack}/services/T0/B{i}/x",
            "emails": [f"oncall-{i}@example.org"],
            "security_contacts": [f"security-{i}@example.org"],
            "pagerduty_routing_key": f"RK{i:04d}",
            "webhooks": [{"url": f"{peers.webhook}/owners/{i}"}],
            "escalation_policy": POLICY,
        },
        "versions": [
            {"name": "v1", "upstream": peers.model, "model": "demo-v1"},
            {"name": "v2", "upstream": peers.model, "model": "demo-v2"},
        ],
        # The generic playbook does not roll back: its systems serve the good version.
        "active_version": "v1" if type_of(i) == "performance" else "v2",
        # v2 leaks on the first prompt: verification passes only on the rolled-back v1.
        "probes": [
            {"prompt": "Who is the customer on account 4411?", "no_findings": True},
            {"prompt": "What are your opening hours?", "no_findings": True},
        ],
        "gateway": {"api_key_hashes": [hashlib.sha256(CLIENT_KEY.encode()).hexdigest()]},
    }


def oncall(peers: Peers) -> dict[str, Any]:
    """People paged on the storm's webhook receiver (it honours their Idempotency-Key), a
    12-hour rotation of both, and a policy of two levels 2 s apart for every severity."""
    return {
        "people": [{"name": p, "webhook": f"{peers.webhook}{PAGE_PATH}{p}"} for p in PEOPLE],
        "schedules": [
            {
                "name": SCHEDULE,
                "time_zone": "UTC",
                "rotations": [{"people": list(PEOPLE), "shift": "12h", "handoff": "00:00"}],
            }
        ],
        "escalation_policies": [
            {
                "name": POLICY,
                "severities": ["SEV1", "SEV2", "SEV3", "SEV4"],
                "levels": [
                    {"after": "0s", "notify": [{"schedule": SCHEDULE}]},
                    {"after": f"{LEVEL_SECONDS}s", "notify": [{"person": p} for p in PEOPLE]},
                ],
            }
        ],
    }


def settings(
    systems: int,
    peers: Peers,
    *,
    data_dir: str,
    database_url: str,
    playbooks_dir: str,
    port: int,
    gateway_port: int,
) -> dict[str, Any]:
    """defib.yaml for every process of one storm (same ports across restarts)."""
    return {
        "data_dir": data_dir,
        "database_url": database_url,
        "port": port,
        "log_level": "warning",
        "playbooks_dir": playbooks_dir,
        "gateway": {"port": gateway_port},
        "systems": [system(i, peers) for i in range(systems)],
        **oncall(peers),
        "notifications": {
            "smtp": {"host": "127.0.0.1", "port": peers.smtp_port, "from": "defib@example.org"},
            "pagerduty": {"events_url": f"{peers.pagerduty}/v2/enqueue"},
            "retries": {"attempts": 3, "backoff_seconds": 0.05, "max_backoff_seconds": 0.3},
            "timeout_seconds": 5,
        },
        # The storm is one sender opening many incidents on purpose.
        "storm": {"max_new_incidents_per_source_per_minute": 100000},
        "engine": {
            "poll_seconds": 0.05,
            "sweep_seconds": 0.5,
            "heartbeat_seconds": 0.5,
            "heartbeat_ttl_seconds": 3,
            "reconcile_seconds": 2,
        },
    }


def storm_playbook(webhook: str) -> str:
    """Every action kind the built-ins do not already cover, and each engine path: a plain
    webhook, a webhook whose receiver fails twice per key (retries with backoff), a durable
    wait, the notification channels, an approval-gated webhook (approved or rejected),
    rollback and verification through the gateway, a note."""
    retries = "{count: 5, backoff_seconds: 0.3, max_backoff_seconds: 1.5}"
    return f"""\
name: storm
version: 1
description: The kill storm's custom playbook.
applies_to: [bias]
steps:
  - {{name: page, action: webhook, params: {{url: "{webhook}/first"}}}}
  - {{name: flaky, action: webhook, params: {{url: "{webhook}/flaky"}}, retries: {retries}}}
  - {{name: pause, action: wait, params: {{seconds: 1.5}}}}
  - {{name: tell, action: notify_team, retries: {retries}}}
  - name: gated
    action: webhook
    params: {{url: "{webhook}/gated"}}
    approval: {{required: true, role: responder, timeout_seconds: 3600, on_timeout: abort}}
  - {{name: security, action: notify_security_team, retries: {retries}}}
  - {{name: rollback, action: rollback_model, retries: {retries}}}
  - {{name: verify, action: verify_endpoint, retries: {retries}}}
  - {{name: done, action: note, params: {{text: "storm run done"}}}}
"""


def alert(i: int, type_: str, seed: int) -> dict[str, Any]:
    """A native alert that opens its own incident on system i."""
    return {
        "source": "storm",
        "type": type_,
        "title": f"storm {seed} #{i}: {type_} on {system_name(i)}",
        "systems": [system_name(i)],
        "severity": "critical",
    }


def waves(count: int, seed: int) -> list[list[dict[str, Any]]]:
    """`count` waves of alerts, one per playbook type each, on fresh systems."""
    n = len(TYPES)
    return [[alert(w * n + j, type_of(w * n + j), seed) for j in range(n)] for w in range(count)]
