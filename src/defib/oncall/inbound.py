"""PagerDuty acknowledging or resolving a defib incident (its signed v3 webhooks).

The route verifies the signature; this applies an event at most once: its id is claimed
in the database (every replica shares it) before the incident changes, and released
again if the change fails for a reason a retry could fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from defib.incidents.lifecycle import IncidentService
from defib.integrations.pagerduty_webhooks import MAX_AGE, WebhookEvent
from defib.model import Command, IllegalTransition, InvalidInput, NotFound
from defib.store import oncall as repo
from defib.store.database import Database

COMMANDS = {"incident.acknowledged": Command.ACKNOWLEDGE, "incident.resolved": Command.RESOLVE}


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of one event: `applied`, `duplicate` or `ignored` (and why)."""

    outcome: str
    incident: str | None = None
    reason: str | None = None


class PagerDutyInbound:
    def __init__(
        self, db: Database, incidents: IncidentService, clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.incidents = incidents
        self.clock = clock

    def apply(self, event: WebhookEvent) -> Applied:
        command = COMMANDS.get(event.event_type)
        if command is None:
            return Applied("ignored", reason=f"{event.event_type} is not acted on")
        if event.incident_key is None or not event.incident_key.upper().startswith("INC-"):
            # Only incidents defib triggered (dedup_key = its id) are defib's to change.
            return Applied("ignored", reason="the PagerDuty incident was not raised by defib")
        target = event.incident_key
        now = self.clock()
        with self.db.write() as conn:
            # Ids older than the replay window are refused by age anyway: keep the table small.
            repo.forget_webhook_events(conn, now - 2 * MAX_AGE - timedelta(minutes=1))
            fresh = repo.claim_webhook_event(conn, event.id, now)
        if not fresh:
            return Applied("duplicate", target, f"event {event.id} was already applied")
        note = f"from PagerDuty ({event.event_type}"
        note += (
            f", PagerDuty incident {event.pagerduty_incident})" if event.pagerduty_incident else ")"
        )
        try:
            self.incidents.apply(target, command, event.actor, note)
        except (NotFound, InvalidInput):
            return Applied("ignored", target, f"{target} is not a defib incident")
        except IllegalTransition as exc:
            return Applied("ignored", target, str(exc))
        except Exception:
            with self.db.write() as conn:
                repo.release_webhook_event(conn, event.id)
            raise
        return Applied("applied", target)
