"""Inline detection raises native alerts through intake: a leaking version opens a
data_leak incident, once per rate-limit interval, with masked samples."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select

from defib.gateway.routing import key_hash
from defib.gateway.server import ThreadedServer
from defib.model import Incident, IncidentType, Severity
from defib.store import incidents as incident_repo
from defib.store.tables import alerts
from defib.testing import free_port
from tests.support.gateway import GatewayFactory, Running, system

ASK = [{"role": "user", "content": "who is the customer?"}]


def _incidents(gw: Running, timeout: float = 15.0) -> list[Incident]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, _ = gw.runtime.incidents.search(incident_repo.IncidentFilter(system="chat-api"))
        if found:
            return found
        time.sleep(0.05)
    return []


def test_inline_pii_detection_opens_a_data_leak_incident(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway(
        [system("chat-api", upstream.url, gateway={"detect": ["pii", "toxicity", "grounding"]})],
        alert_min_interval_seconds=3600,
    )
    client = gw.client("chat-api")
    hello = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert hello.model == "demo-v2"
    assert gw.gateway.post.drain()
    found, _ = gw.runtime.incidents.search(incident_repo.IncidentFilter())
    assert found == []  # a clean answer raises nothing

    ids = []
    for _ in range(3):
        raw = client.chat.completions.with_raw_response.create(model="m", messages=ASK)
        ids.append(raw.headers["x-defib-request-id"])
    assert gw.gateway.post.drain()
    [incident] = _incidents(gw)
    assert incident.type is IncidentType.DATA_LEAK
    assert incident.severity is Severity.SEV1
    assert incident.affected_systems == ("chat-api",)
    assert incident.alert_count == 1  # three leaks, one alert: rate limited per system+kind

    with gw.runtime.db.read() as conn:
        [payload] = conn.execute(select(alerts.c.payload)).scalars().all()
    assert payload["source"] == "defib-gateway"
    assert payload["labels"]["version"] == "v2"
    assert payload["labels"]["request_ids"] == ids[0]
    sample = payload["samples"][0]
    assert "[EMAIL]" in sample["response"]
    assert "jane.doe@example.com" not in sample["response"]
    assert "123-45-6789" not in str(payload)


def test_grounding_against_the_request_context_opens_a_hallucination_incident(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    keys = {"api_key_hashes": [key_hash("k-rag"), key_hash("k-other")]}
    trusted = {"context_key_hashes": [key_hash("k-rag")]}
    gw = start_gateway(
        [system("chat-api", upstream.url, gateway={"detect": ["grounding"], **keys, **trusted})],
        alert_min_interval_seconds=0,
    )
    ask = {
        "model": "m",
        "messages": [{"role": "user", "content": "[say=Refunds are accepted within 90 days.]"}],
        "extra_body": {"defib_context": "Refunds are accepted within 30 days of purchase."},
    }
    # Context from a key not allowed to send it is ignored: nothing to ground against.
    gw.client("chat-api", key="k-other").chat.completions.create(**ask)
    assert gw.gateway.post.drain()
    assert _incidents(gw, timeout=0.5) == []
    # The context says 30 days; the model says 90: a contradiction.
    answer = gw.client("chat-api", key="k-rag").chat.completions.create(**ask)
    assert answer.choices[0].message.content == "Refunds are accepted within 90 days."
    [incident] = _incidents(gw)
    assert incident.type is IncidentType.HALLUCINATION


def test_upstream_errors_trip_the_availability_slo(start_gateway: GatewayFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    gw = start_gateway([{"name": "chat-api", "versions": [{"name": "v1", "upstream": dead}]}])
    response = httpx.post(
        f"{gw.url}/systems/chat-api/v1/chat/completions", json={"model": "m", "messages": ASK}
    )
    assert response.status_code == 502
    [incident] = _incidents(gw)
    assert incident.type is IncidentType.AVAILABILITY
    assert incident.labels.get("slo") == "chat-api-availability"


def test_slow_answers_trip_the_latency_slo(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    slo = {"latency_threshold_ms": 0.001}  # every answer is "slow"
    gw = start_gateway([system("chat-api", upstream.url, gateway={"slo": slo})])
    gw.client("chat-api").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    [incident] = _incidents(gw)
    assert incident.type is IncidentType.PERFORMANCE
    assert incident.labels.get("slo") == "chat-api-latency"
