"""POST /alerts: a native alert that names its type creates, then merges."""

from __future__ import annotations

from fastapi.testclient import TestClient

ALERT = {
    "type": "toxicity",
    "title": "Toxic replies from chat-api",
    "description": "Guardrail flagged 14 abusive responses in 10 minutes.",
    "systems": ["chat-api"],
    "severity": "high",
    "dedup_key": "chat-api-toxicity",
}


def test_native_alert_creates_then_merges(admin: TestClient) -> None:
    r1 = admin.post("/api/v1/alerts", json=ALERT)
    assert r1.status_code == 202, r1.text
    [first] = r1.json()["results"]
    assert (first["action"], first["type"], first["severity"]) == ("created", "toxicity", "SEV2")
    [second] = admin.post("/api/v1/alerts", json=ALERT).json()["results"]
    assert (second["action"], second["incident_id"]) == ("merged", first["incident_id"])
    inc = admin.get(f"/api/v1/incidents/{first['incident_id']}").json()
    assert inc["alert_count"] == 2
    assert inc["affected_systems"] == ["chat-api"]


def test_other_systems_open_another_incident(admin: TestClient) -> None:
    a = admin.post("/api/v1/alerts", json=ALERT).json()["results"][0]
    b = admin.post("/api/v1/alerts", json={**ALERT, "systems": ["search-api"]}).json()["results"][0]
    assert b["action"] == "created"
    assert a["incident_id"] != b["incident_id"]


def test_invalid_json_is_400(admin: TestClient) -> None:
    r = admin.post(
        "/api/v1/alerts", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"


def test_invalid_payload_is_422_naming_the_field_and_stores_nothing(admin: TestClient) -> None:
    r = admin.post("/api/v1/alerts", json={**ALERT, "systems": "chat-api"})
    assert r.status_code == 422
    assert "systems" in r.json()["error"]["message"]
    assert admin.get("/api/v1/incidents").json()["items"] == []


def test_unknown_format_route_is_404(admin: TestClient) -> None:
    r = admin.post("/api/v1/alerts/nagios", json=ALERT)
    assert r.status_code == 404
    assert "nagios" in r.json()["error"]["message"]


def test_pagerduty_event_gets_a_pagerduty_style_answer(admin: TestClient) -> None:
    event = {
        "routing_key": "r" * 32,
        "event_action": "trigger",
        "dedup_key": "chat-api-5xx",
        "payload": {
            "summary": "chat-api returns 503 for 80% of requests",
            "source": "chat-api",
            "severity": "critical",
        },
    }
    body = admin.post("/api/v1/alerts/pagerduty", json=event).json()
    assert (body["status"], body["message"], body["dedup_key"]) == (
        "success",
        "Event processed",
        "chat-api-5xx",
    )
    assert body["results"][0]["type"] == "availability"
    resolve = {"routing_key": "r" * 32, "event_action": "resolve", "dedup_key": "chat-api-5xx"}
    [cleared] = admin.post("/api/v1/alerts", json=resolve).json()["results"]
    assert (cleared["action"], cleared["incident_id"]) == (
        "cleared",
        body["results"][0]["incident_id"],
    )


def test_alertmanager_group_is_taken_whole_or_not_at_all(admin: TestClient) -> None:
    good = {
        "status": "firing",
        "labels": {"alertname": "LLMHighLatency", "service": "chat-api"},
        "annotations": {"description": "p99 latency 9s"},
        "startsAt": "2026-01-01T00:00:00Z",
    }
    bad = {**good, "labels": {"service": "x"}}  # no alertname
    payload = {"version": "4", "status": "firing", "receiver": "defib", "alerts": [good, bad]}
    r = admin.post("/api/v1/alerts", json=payload)
    assert r.status_code == 422
    assert "alerts[1].labels.alertname" in r.json()["error"]["message"]
    assert admin.get("/api/v1/incidents").json()["items"] == []
    payload["alerts"] = [good, {**good, "labels": {**good["labels"], "pod": "p2"}}]
    results = admin.post("/api/v1/alerts", json=payload).json()["results"]
    assert [r["action"] for r in results] == ["created", "merged"]
