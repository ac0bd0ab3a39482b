"""Resolve the PagerDuty incident when the defib incident resolves.

`notify_team` / `notify_security_team` trigger PagerDuty with `dedup_key` = the incident
id; when the incident resolves (a person, a playbook, or every alert clearing after
mitigation), this listener sends `event_action: resolve` with the same `dedup_key` to every
affected system's routing key, and to the routing key of every on-call person whom the
escalation paged through PagerDuty for this incident (`page_sent` with channel
`pagerduty`: those pages use the same `dedup_key`). It runs after the resolving commit, in
a background thread (a resolve must not wait on PagerDuty), with the notification retries,
and records each outcome on the timeline (`pagerduty_resolved` / `pagerduty_resolve_failed`) keyed
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
        owners = any(s.owners.pagerduty_routing_key for s in self.settings.systems)
        people = any(p.pagerduty_routing_key for p in self.settings.people)
        if not (owners or people):
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
            keys |= _paged_people_keys(db, settings, seq)
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


def _paged_people_keys(db: Database, settings: Settings, seq: int) -> set[str]:
    """The routing keys of the people the escalation paged through PagerDuty for this
    incident: their PagerDuty incident carries the same `dedup_key`, so it resolves too."""
    by_name = {p.name: p.pagerduty_routing_key for p in settings.people if p.pagerduty_routing_key}
    if not by_name:
        return set()
    paged: set[str] = set()
    after: int | None = None
    while True:
        with db.read() as conn:
            events = incident_repo.list_events(conn, seq, after_id=after)
        for event in events:
            data = event.data
            if event.kind == TimelineKind.PAGE_SENT and data.get("channel") == "pagerduty":
                key = by_name.get(str(data.get("person")))
                if key:
                    paged.add(key)
        if len(events) < 1000:
            return paged
        after = events[-1].id
