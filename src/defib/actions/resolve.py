"""Resolve the PagerDuty incident when the defib incident resolves.

`notify_team` / `notify_security_team` trigger PagerDuty with `dedup_key` = the incident
id; when the incident resolves (a person, a playbook, or every alert clearing after
mitigation), this listener sends `event_action: resolve` with the same `dedup_key` to every
affected system's routing key. It runs after the resolving commit, in a background thread
(a resolve must not wait on PagerDuty), with the notification retries, and records each
outcome on the timeline (`pagerduty_resolved` / `pagerduty_resolve_failed`) keyed
`pagerduty-resolve:<incident>:<resolved_at>:<routing key hash>`, so a resolve is sent once
per resolution (a reopened and re-resolved incident resolves PagerDuty again).

Best effort: a crash between the commit and the send loses the resolve (PagerDuty's own
auto-resolve timeout, or a person, closes it then).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Sequence
from functools import partial
from typing import Any

import httpx

from defib.clock import Clock, utcnow
from defib.config import Settings
from defib.events import TimelineKind
from defib.integrations.base import DeliveryFailed, RetryPolicy, retrying
from defib.integrations.pagerduty import PagerDutyEvents
from defib.integrations.tls import verify_context
from defib.model import TimelineEvent
from defib.store import evidence as evidence_repo
from defib.store import incidents as incident_repo
from defib.store.database import Database

log = logging.getLogger(__name__)

SENT, FAILED = TimelineKind.PAGERDUTY_RESOLVED, TimelineKind.PAGERDUTY_RESOLVE_FAILED
ACTOR = "pagerduty-resolve"


class PagerDutyResolver:
    """An `IncidentService` resolve listener: sends the resolves in a background thread."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock

    def __call__(self, db: Database, seqs: Sequence[int]) -> None:
        if not any(s.owners.pagerduty_routing_key for s in self.settings.systems):
            return
        thread = threading.Thread(
            target=_run,
            args=(db, self.settings, list(seqs), self.clock),
            name="defib-pd-resolve",
            daemon=True,
        )
        thread.start()


def _run(db: Database, settings: Settings, seqs: list[int], clock: Clock) -> None:
    try:
        asyncio.run(resolve_all(db, settings, seqs, clock))
    except Exception:
        log.exception("PagerDuty resolve for %s failed", seqs)


async def resolve_all(
    db: Database, settings: Settings, seqs: Sequence[int], clock: Clock = utcnow
) -> int:
    """Send the resolves not yet recorded; return how many were sent."""
    r = settings.notifications.retries
    policy = RetryPolicy(r.attempts, r.backoff_seconds, r.max_backoff_seconds)
    sent = 0
    timeout = settings.notifications.timeout_seconds
    async with httpx.AsyncClient(timeout=timeout, verify=verify_context()) as client:
        for seq in seqs:
            with db.read() as conn:
                incident = incident_repo.get_incident(conn, seq)
            if incident.resolved_at is None:
                continue
            keys = {
                s.owners.pagerduty_routing_key
                for name in incident.affected_systems
                if (s := settings.system(name)) is not None and s.owners.pagerduty_routing_key
            }
            for routing_key in sorted(keys):
                digest = hashlib.sha256(routing_key.encode()).hexdigest()[:12]
                key = f"pagerduty-resolve:{incident.id}:{incident.resolved_at.isoformat()}:{digest}"
                with db.read() as conn:
                    if evidence_repo.timeline_key_exists(conn, key):
                        continue
                pd = PagerDutyEvents(
                    client, routing_key, settings.notifications.pagerduty.events_url
                )
                data: dict[str, Any] = {"dedup_key": incident.id, "target": pd.target}
                try:
                    _, attempts = await retrying(partial(pd.resolve, incident.id, key), policy)
                    kind, event_key = SENT, key
                    data["attempts"] = attempts
                    sent += 1
                except DeliveryFailed as exc:
                    kind, event_key = FAILED, f"{key}:failed"
                    data.update(error=str(exc), attempts=exc.attempts)
                with db.write() as conn:
                    incident_repo.append_event(
                        conn,
                        seq,
                        TimelineEvent(clock(), ACTOR, kind, data),
                        idempotency_key=event_key,
                    )
    return sent
