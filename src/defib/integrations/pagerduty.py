"""PagerDuty Events API v2: trigger (and resolve) with `dedup_key` = the incident id."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from defib.integrations.base import Notice
from defib.integrations.http import post, status_detail
from defib.integrations.signing import IDEMPOTENCY_HEADER

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

# PagerDuty's severities are critical, error, warning, info.
SEVERITY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "SEV4": "info"}


def trigger_event(notice: Notice, routing_key: str) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        # PagerDuty folds events with one dedup_key into one alert: a re-run is recognised.
        "dedup_key": notice.incident_id,
        "payload": {
            "summary": notice.subject[:1024],
            "source": ",".join(notice.systems)[:255] or "defib",
            "severity": SEVERITY.get(notice.severity, "error"),
            "component": notice.systems[0] if notice.systems else None,
            "class": notice.type,
            "custom_details": {
                "incident": notice.incident_id,
                "status": notice.status,
                "systems": list(notice.systems),
                "text": notice.text,
                "security": notice.security,
            },
        },
        "client": "defib",
        "client_url": notice.link,
        "links": [{"href": notice.link, "text": f"defib {notice.incident_id}"}],
    }


def resolve_event(incident_id: str, routing_key: str) -> dict[str, Any]:
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": incident_id}


@dataclass(frozen=True, slots=True)
class PagerDutyEvents:
    client: httpx.AsyncClient
    routing_key: str
    events_url: str = DEFAULT_EVENTS_URL
    channel: str = "pagerduty"

    @property
    def target(self) -> str:
        return f"pagerduty:{self.routing_key[:4]}…"

    async def _send(self, event: dict[str, Any], idempotency_key: str) -> Mapping[str, Any]:
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "defib-notify",
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        response = await post(self.client, self.events_url, body, headers)
        detail: dict[str, Any] = {**status_detail(response), "dedup_key": event["dedup_key"]}
        return detail

    async def send_once(self, notice: Notice, idempotency_key: str) -> Mapping[str, Any]:
        return await self._send(trigger_event(notice, self.routing_key), idempotency_key)

    async def resolve(self, incident_id: str, idempotency_key: str) -> Mapping[str, Any]:
        return await self._send(resolve_event(incident_id, self.routing_key), idempotency_key)
