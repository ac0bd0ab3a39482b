"""POST /api/v1/signals/litellm[/alerts]: LiteLLM's webhooks open incidents (both databases).

Payloads built to LiteLLM's documented StandardLoggingPayload, WebhookEvent and Slack-shaped
alert formats (see test_litellm.py; a real proxy drives test_litellm_proxy.py when installed).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from defib.auth import Role
from defib.model import IncidentType
from tests.support.signals import Api
from tests.unit.signals.test_litellm import payload

LEAK = {
    "choices": [
        {
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Jane Doe, SSN 123-45-6789."},
        }
    ]
}
HELLO = {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "Hi!"}}]}


def test_a_logged_leak_opens_a_data_leak_incident(start_api: Callable[..., Api]) -> None:
    """The generic API logger's JSON array goes through the gateway's detection."""
    api = start_api(systems=[{"name": "support-bot"}])
    answer = api.client.post("/api/v1/signals/litellm", json=[payload(response=LEAK)])
    assert answer.status_code == 202, answer.text
    assert answer.json()["calls"] == 1
    [incident] = api.incidents(system="support-bot")
    assert incident.type is IncidentType.DATA_LEAK
    [alert] = api.alert_payloads()
    assert (alert["source"], alert["signal"]) == ("defib-litellm", "litellm.data_leak")
    assert alert["labels"]["clients"].startswith("k")  # the virtual key, as a short id
    assert "123-45-6789" not in alert["samples"][0]["response"]


def test_an_alert_with_a_query_token_opens_a_performance_incident(
    start_api: Callable[..., Api],
) -> None:
    """LiteLLM's alerting cannot send headers: the token may ride in the URL."""
    api = start_api()
    text = "Level: `Medium`\n\nMessage: `Requests are hanging - 300s+ request time`"
    url = f"/api/v1/signals/litellm/alerts?system=support-bot&token={api.tokens[Role.INGEST]}"
    answer = api.client.post(url, json={"text": text}, headers={"Authorization": ""})
    assert answer.status_code == 202, answer.text
    [result] = answer.json()["results"]
    assert result["action"] == "created"
    [incident] = api.incidents(system="support-bot")
    assert incident.type is IncidentType.PERFORMANCE


def test_late_split_batches_of_slow_calls_burn_the_latency_slo(
    start_api: Callable[..., Api],
) -> None:
    """LiteLLM's logger posts in batches every few seconds, so a call reaches defib long
    after it ended, and three calls may come in two posts in any order: the SLO counts each
    on its own start time (not on arrival) and opens one incident naming the calls."""
    api = start_api(
        systems=[{"name": "slow-bot", "gateway": {"slo": {"latency_threshold_ms": 300}}}]
    )
    now = time.time()
    calls = [
        payload(
            id=f"chatcmpl-{i}",
            model="demo-v1",
            model_group="slow-bot",
            response=HELLO,
            # Started 4 minutes to 20 s ago: inside the 5 min window, long before arrival.
            startTime=now - ago,
            endTime=now - ago + 1.2,
        )
        for i, ago in enumerate((240, 120, 20))
    ]
    for batch in ([calls[2]], [calls[0], calls[1]]):
        answer = api.client.post("/api/v1/signals/litellm", json=batch)
        assert answer.status_code == 202, answer.text
    [incident] = api.incidents(system="slow-bot", timeout=20)
    assert incident.type is IncidentType.PERFORMANCE
    assert "SLO slow-bot-latency-litellm" in incident.title
    [alert] = api.alert_payloads()
    assert set(alert["labels"]["span_ids"].split(",")) <= {c["id"] for c in calls}


def test_refusals(start_api: Callable[..., Api]) -> None:
    api = start_api()
    viewer = api.tokens[Role.VIEWER]
    no_auth = {"Authorization": ""}
    assert api.client.post("/api/v1/signals/litellm", json=[{"x": 1}]).status_code == 422
    assert (
        api.client.post("/api/v1/signals/litellm", json=[payload()], headers=no_auth).status_code
        == 401
    )
    assert (
        api.client.post(
            f"/api/v1/signals/litellm/alerts?token={viewer}", json={"text": "x"}, headers=no_auth
        ).status_code
        == 403
    )
    assert (
        api.client.post(
            "/api/v1/signals/litellm/alerts?token=nope", json={"text": "x"}, headers=no_auth
        ).status_code
        == 401
    )
