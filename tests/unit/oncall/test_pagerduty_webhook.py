"""PagerDuty's v3 webhooks acknowledge and resolve defib incidents, on both databases.

Bodies follow PagerDuty's documented v3 shape ({"event": {id, event_type, resource_type,
occurred_at, agent, data}}), signed as PagerDuty signs them: `X-PagerDuty-Signature:
v1=<hex HMAC-SHA256 of the raw body>`, several comma-separated while a secret rotates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.bootstrap import Runtime
from defib.integrations.pagerduty_webhooks import parse_event, signature_valid
from defib.model import IncidentType, Severity, Status
from tests.support.engine import declare

SECRET = "pd-subscription-secret"
URL = "/api/v1/integrations/pagerduty/webhook"


def body(event_type: str, incident: str, *, age: timedelta = timedelta(0), eid: str = "") -> bytes:
    at = (datetime.now(UTC) - age).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    doc: dict[str, Any] = {
        "event": {
            "id": eid or uuid.uuid4().hex.upper()[:26],
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": at,
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                "id": "PLH1HKV",
                "self": "https://api.pagerduty.com/users/PLH1HKV",
                "summary": "Alice Oncall",
                "type": "user_reference",
            },
            "client": None,
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                "number": 2,
                "status": event_type.split(".")[1],
                "incident_key": incident,
                "created_at": at,
                "title": "A little bump in the road",
                "urgency": "high",
            },
        }
    }
    return json.dumps(doc).encode()


def signed(raw: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-PagerDuty-Signature": f"v1={digest}", "Content-Type": "application/json"}


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("PD_WEBHOOK_SECRET", SECRET)
    return make_runtime(notifications={"pagerduty": {"webhook_secret_env": "PD_WEBHOOK_SECRET"}})


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as c:  # auth on: the signature is the only credential
        yield c


def incident(rt: Runtime) -> str:
    return declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1)


def test_acknowledged_event_acknowledges_with_the_agent_on_the_timeline(
    client: TestClient, rt: Runtime
) -> None:
    """incident.acknowledged for dedup key INC-n acknowledges INC-n as pagerduty:<agent>."""
    inc = incident(rt)
    raw = body("incident.acknowledged", inc)
    answer = client.post(URL, content=raw, headers=signed(raw))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"outcome": "applied", "incident": inc, "reason": None}
    assert rt.incidents.get(inc).status is Status.ACKNOWLEDGED
    (event,) = [e for e in rt.incidents.timeline(inc) if e.kind == "transition"]
    assert event.actor == "pagerduty:Alice Oncall"


def test_resolved_event_resolves(client: TestClient, rt: Runtime) -> None:
    """incident.resolved resolves the defib incident."""
    inc = incident(rt)
    raw = body("incident.resolved", inc)
    assert client.post(URL, content=raw, headers=signed(raw)).status_code == 200
    assert rt.incidents.get(inc).status is Status.RESOLVED


@pytest.mark.parametrize(
    "headers",
    [
        {"X-PagerDuty-Signature": "v1=" + "0" * 64},
        {"X-PagerDuty-Signature": "v0=whatever"},
        {},
    ],
    ids=["wrong", "other-version", "missing"],
)
def test_bad_signature_is_401_and_changes_nothing(
    client: TestClient, rt: Runtime, headers: dict[str, str]
) -> None:
    """A body not signed with the subscription's secret is refused; the incident stays."""
    inc = incident(rt)
    raw = body("incident.acknowledged", inc)
    answer = client.post(URL, content=raw, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_signature_by_another_secret_or_over_another_body_is_401(
    client: TestClient, rt: Runtime
) -> None:
    """Signed with a different secret, or a valid signature over a tampered body: refused."""
    inc = incident(rt)
    raw = body("incident.acknowledged", inc)
    assert client.post(URL, content=raw, headers=signed(raw, "other")).status_code == 401
    tampered = raw.replace(b"Alice", b"Mallo")
    assert client.post(URL, content=tampered, headers=signed(raw)).status_code == 401
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_old_event_is_401_even_when_signed(client: TestClient, rt: Runtime) -> None:
    """A correctly signed event that occurred 6 minutes ago is refused: no late replays."""
    inc = incident(rt)
    raw = body("incident.acknowledged", inc, age=timedelta(minutes=6))
    answer = client.post(URL, content=raw, headers=signed(raw))
    assert answer.status_code == 401 and "5-minute" in answer.json()["error"]["message"]
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_replayed_event_id_is_not_applied_twice(client: TestClient, rt: Runtime) -> None:
    """The same event id again (a replay) answers `duplicate`: after a reopen it stays open."""
    inc = incident(rt)
    raw = body("incident.resolved", inc, eid="01EVENT")
    assert client.post(URL, content=raw, headers=signed(raw)).json()["outcome"] == "applied"
    from defib.model import Command

    rt.incidents.apply(inc, Command.REOPEN, "dana")
    again = client.post(URL, content=raw, headers=signed(raw))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert rt.incidents.get(inc).status is not Status.RESOLVED


def test_one_of_several_signatures_is_enough(client: TestClient, rt: Runtime) -> None:
    """While a secret rotates PagerDuty sends `v1=<old>,v1=<new>`: one match is accepted."""
    inc = incident(rt)
    raw = body("incident.acknowledged", inc)
    good = signed(raw)["X-PagerDuty-Signature"]
    headers = {"X-PagerDuty-Signature": f"v1={'a' * 64}, {good}"}
    assert client.post(URL, content=raw, headers=headers).json()["outcome"] == "applied"


def test_events_not_about_defib_incidents_are_ignored(client: TestClient, rt: Runtime) -> None:
    """An incident_key defib did not send, or another event type, changes nothing."""
    inc = incident(rt)
    for raw in (
        body("incident.acknowledged", "d3640fbd41094207a1c11e58e46b1662"),
        body("incident.annotated", inc),
        body("incident.acknowledged", "INC-999999"),
    ):
        answer = client.post(URL, content=raw, headers=signed(raw))
        assert answer.status_code == 200 and answer.json()["outcome"] == "ignored", answer.text
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_not_configured_is_404(make_runtime: Callable[..., Runtime]) -> None:
    """Without webhook_secret_env the route refuses everything (404 saying what to set)."""
    rt = make_runtime()
    with TestClient(create_app(rt)) as c:
        raw = body("incident.acknowledged", "INC-1")
        answer = c.post(URL, content=raw, headers=signed(raw))
    assert answer.status_code == 404
    assert "webhook_secret_env" in answer.json()["error"]["message"]


def test_signature_check_matches_pagerdutys_documented_scheme() -> None:
    """HMAC-SHA256 hex of the raw body under `v1=`: the documented example's construction."""
    raw = b'{"event":{"id":"x"}}'
    digest = hmac.new(b"secret", raw, hashlib.sha256).hexdigest()
    assert signature_valid(raw, f"v1={digest}", "secret")
    assert not signature_valid(raw, f"v1={digest}", "")
    assert not signature_valid(raw + b" ", f"v1={digest}", "secret")


def test_parse_event_names_what_is_missing() -> None:
    """A verified body without the v3 fields is a 4xx naming the field."""
    from defib.model import InvalidInput

    with pytest.raises(InvalidInput, match=r"event\.occurred_at"):
        parse_event(b'{"event": {"id": "1", "event_type": "incident.resolved"}}')
    with pytest.raises(InvalidInput, match="event: missing"):
        parse_event(b"[]")
