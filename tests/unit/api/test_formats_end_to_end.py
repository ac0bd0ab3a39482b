"""Every format end to end over HTTP: create, re-delivery, clear; reasons on the timeline."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

AM_ALERT = {
    "status": "firing",
    "labels": {
        "alertname": "RAGGroundednessLow",
        "severity": "warning",
        "service": "rag-answerer",
        "namespace": "prod",
    },
    "annotations": {
        "summary": "Groundedness score 0.41 (SLO 0.80)",
        "description": "Answers are not supported by the retrieved context.",
    },
    "startsAt": "2026-02-01T10:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prom/graph",
    "fingerprint": "a1b2c3",
}


def alertmanager(status: str) -> dict[str, Any]:
    alert = {**copy.deepcopy(AM_ALERT), "status": status}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="RAGGroundednessLow"}',
        "status": status,
        "receiver": "defib",
        "groupLabels": {"alertname": "RAGGroundednessLow"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://am",
        "truncatedAlerts": 0,
        "alerts": [alert],
    }


def grafana(status: str) -> dict[str, Any]:
    body = alertmanager(status)
    body.update(
        version="1",
        orgId=1,
        title=f"[{status.upper()}] RAGGroundednessLow",
        state="alerting" if status == "firing" else "ok",
        message="groundedness low",
    )
    body["alerts"][0]["values"] = {"A": 0.41}
    return body


def prometheus(status: str) -> list[dict[str, Any]]:
    alert = {k: v for k, v in AM_ALERT.items() if k in ("labels", "annotations", "startsAt")}
    alert["endsAt"] = "2999-01-01T00:00:00Z" if status == "firing" else "2026-02-01T11:00:00Z"
    return [alert]


def pagerduty(status: str) -> dict[str, Any]:
    if status == "resolved":
        return {"routing_key": "k" * 32, "event_action": "resolve", "dedup_key": "rag-ground"}
    return {
        "routing_key": "k" * 32,
        "event_action": "trigger",
        "dedup_key": "rag-ground",
        "payload": {
            "summary": "rag-answerer groundedness score fell to 0.41",
            "source": "rag-answerer",
            "severity": "warning",
            "custom_details": {"metric": "groundedness", "value": 0.41},
        },
    }


def native(status: str) -> dict[str, Any]:
    return {
        "source": "evals",
        "title": "Groundedness eval failing on rag-answerer",
        "description": "Faithfulness score 0.41; answers cite passages that do not exist.",
        "systems": ["rag-answerer"],
        "severity": "warning",
        "status": status,
        "dedup_key": "rag-ground",
        "occurred_at": "2026-02-01T10:00:00Z",
    }


BUILDERS = {
    "alertmanager": alertmanager,
    "grafana": grafana,
    "prometheus": prometheus,
    "pagerduty": pagerduty,
    "native": native,
}


@pytest.mark.parametrize("fmt", list(BUILDERS))
def test_format_creates_dedups_and_clears(admin: TestClient, fmt: str) -> None:
    build = BUILDERS[fmt]
    [first] = admin.post("/api/v1/alerts", json=build("firing")).json()["results"]
    assert (first["action"], first["type"], first["severity"]) == (
        "created",
        "hallucination",
        "SEV3",
    )
    [again] = admin.post(f"/api/v1/alerts/{fmt}", json=build("firing")).json()["results"]
    assert again["action"] == "duplicate"
    [cleared] = admin.post("/api/v1/alerts", json=build("resolved")).json()["results"]
    assert (cleared["action"], cleared["incident_id"]) == ("cleared", first["incident_id"])
    incident = admin.get(f"/api/v1/incidents/{first['incident_id']}").json()
    assert incident["affected_systems"] == ["rag-answerer"]
    assert incident["alert_count"] == 1
    events = admin.get(f"/api/v1/incidents/{first['incident_id']}/timeline").json()["items"]
    created = next(e for e in events if e["kind"] == "created")
    assert created["data"]["alert"]["reason"] == first["reason"]
    assert first["reason"]
    assert any(e["kind"] == "alert_resolved" for e in events)
