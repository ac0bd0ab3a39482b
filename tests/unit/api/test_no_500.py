"""Inputs that answered 500 (issue 25), each a 4xx with the JSON error body, on both
databases (PostgreSQL refuses NUL in text and 64-bit overflows where SQLite shrugs)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from defib.api import create_app
from defib.bootstrap import Runtime

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def client(make_runtime: Any) -> Iterator[TestClient]:
    rt: Runtime = make_runtime()
    with TestClient(create_app(rt, auth=False), raise_server_exceptions=False) as c:
        yield c


def _refused(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    assert set(body["error"]) >= {"code", "message"}
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/runs/%00"),
        ("POST", "/api/v1/runs/%00/cancel"),
        ("POST", "/api/v1/runs/r%00x/steps/0/retry"),
        ("POST", "/api/v1/runs/x/steps/%00/approve"),
        ("GET", "/api/v1/incidents/%00"),
        ("GET", "/api/v1/incidents/INC-1%00/runs"),
        ("DELETE", "/api/v1/tokens/%00"),
        ("GET", "/api/v2/silence/%00"),
        ("DELETE", "/api/v2/silence/a%00b"),
        ("GET", "/api/v1/systems/%00"),
        ("GET", "/api/v1/audit?kind=%00"),
        ("GET", "/api/v2/silences?filter=system%3D%22%00%22"),
    ],
)
def test_a_nul_in_a_path_or_query_is_422(client: TestClient, method: str, path: str) -> None:
    """NUL in a path parameter or a query is refused before any route reads it."""
    body = _refused(client.request(method, path))
    assert "NUL" in body["error"]["message"]


def test_a_since_beyond_the_calendar_is_422(client: TestClient) -> None:
    """`since=99999999999d` overflowed the date arithmetic into a 500."""
    _refused(client.get("/api/v1/reports/response", params={"since": "99999999999d"}))
    assert client.get("/api/v1/reports/response", params={"since": "3650d"}).status_code == 200


def _signed(payload: object) -> dict[str, Any]:
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    }


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "actions": "x"},
        {"type": "block_actions", "actions": {"0": 1}},
        {"type": "block_actions", "actions": [1]},
        {"type": "block_actions", "actions": [{"action_id": 1}], "user": {"id": "U"}},
        {"type": "block_actions", "actions": [{"action_id": "a"}], "user": "U1"},
        {"type": "block_actions", "actions": [{"action_id": "a", "value": "INC-1\u0000"}]},
    ],
)
def test_a_signed_but_malformed_slack_payload_is_400(
    client: TestClient, payload: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correctly signed callback of the wrong shape is the sender's error, not ours."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    _refused(client.post("/integrations/slack/actions", **_signed(payload)), 400)
