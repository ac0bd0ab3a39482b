"""The intake bench's floor peers: they take what defib takes and count it, nothing more."""

from __future__ import annotations

import pytest
from bench.intake.floor import Floor
from starlette.testclient import TestClient

ALERT = {
    "labels": {"alertname": "LLMHighLatencyP99", "service": "chat-api", "severity": "warning"},
    "annotations": {"summary": "p99 latency of chat-api above 2s"},
}


@pytest.mark.parametrize("classify", [False, True], ids=["http", "classify"])
def test_the_floor_accepts_alertmanager_bodies_and_counts_them(classify: bool) -> None:
    client = TestClient(Floor(classify=classify))
    assert client.post("/api/v2/alerts", json=[ALERT, ALERT]).status_code == 202
    assert client.post("/api/v2/alerts", json=[ALERT]).status_code == 202
    assert client.get("/metrics").text == "floor_alerts 3\n"
    assert client.get("/-/ready").status_code == 200


def test_the_classifying_floor_refuses_what_defib_refuses() -> None:
    """An alert defib's parser rejects is a 400 there too (so the floor does defib's work,
    not less), and is not counted."""
    client = TestClient(Floor(classify=True))
    bad = client.post("/api/v2/alerts", json=[{"annotations": {}}])
    assert bad.status_code == 400, bad.text
    assert client.post("/api/v2/alerts", content=b"{not json").status_code == 400
    assert client.get("/metrics").text == "floor_alerts 0\n"
