"""PagerDuty's v3 webhooks: signature check and the events defib acts on. Pure.

PagerDuty signs the raw body with each webhook subscription's secret: header
`X-PagerDuty-Signature: v1=<hex HMAC-SHA256>`, several comma-separated while a secret is
rotated; one match is enough. The body is `{"event": {"id", "event_type",
"resource_type", "occurred_at", "agent", "data"}}`; for incidents `data` is the incident,
whose `incident_key` is the Events API v2 `dedup_key` defib sent (the defib incident id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from defib.model import InvalidInput

SIGNATURE_HEADER = "X-PagerDuty-Signature"
# Older events are refused even when signed: a captured delivery cannot be replayed later.
MAX_AGE = timedelta(minutes=5)
# How far ahead of our clock an event may claim to be (clock skew).
MAX_SKEW = timedelta(minutes=1)
ACTED_ON = ("incident.acknowledged", "incident.resolved")


def sign(body: bytes, secret: str) -> str:
    """The header value PagerDuty would send for `body` (tests and local receivers use it)."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, header: str | None, secret: str) -> bool:
    if not header or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for part in header.split(","):
        version, sep, value = part.strip().partition("=")
        if sep and version == "v1" and hmac.compare_digest(value.strip().lower(), expected):
            return True
    return False


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    event_type: str
    occurred_at: datetime
    agent: str  # who did it, as PagerDuty names them ("" when PagerDuty itself)
    incident_key: str | None  # the Events API dedup_key: defib's incident id
    pagerduty_incident: str | None  # PagerDuty's own incident id, for the record

    @property
    def actor(self) -> str:
        return f"pagerduty:{self.agent}" if self.agent else "pagerduty"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_event(body: bytes) -> WebhookEvent:
    """The event in a (verified) body; InvalidInput naming what is missing."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body: not JSON") from exc
    event = doc.get("event") if isinstance(doc, dict) else None
    if not isinstance(event, dict):
        raise InvalidInput('event: missing (a PagerDuty v3 webhook body is {"event": {...}})')
    event_id, event_type = _str(event.get("id")), _str(event.get("event_type"))
    if event_id is None or len(event_id) > 100:
        raise InvalidInput("event.id: missing or too long")
    if event_type is None:
        raise InvalidInput("event.event_type: missing")
    raw_at = _str(event.get("occurred_at"))
    try:
        occurred_at = datetime.fromisoformat(raw_at.replace("Z", "+00:00")) if raw_at else None
    except ValueError:
        occurred_at = None
    if occurred_at is None or occurred_at.tzinfo is None:
        raise InvalidInput("event.occurred_at: missing or not an ISO 8601 time with a zone")
    agent = event.get("agent")
    who = ""
    if isinstance(agent, dict):
        who = _str(agent.get("summary")) or _str(agent.get("email")) or _str(agent.get("id")) or ""
    data = event.get("data")
    data = data if isinstance(data, dict) else {}
    return WebhookEvent(
        id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        agent=who[:150],
        incident_key=_str(data.get("incident_key")),
        pagerduty_incident=_str(data.get("id")),
    )


def too_old(event: WebhookEvent, now: datetime) -> bool:
    return not (now - MAX_AGE <= event.occurred_at <= now + MAX_SKEW)
