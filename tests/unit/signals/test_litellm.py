"""LiteLLM's webhooks (pure): logging payloads become model calls, alerts native alerts.

The payloads follow LiteLLM's documented `StandardLoggingPayload` (generic API logger),
`WebhookEvent` (alerting webhook) and the Slack-shaped alert texts its alerting sends; the
end-to-end test with a real proxy is in test_litellm_proxy.py when LiteLLM is installed.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from defib.signals import litellm

START = 1_765_000_000.0


def payload(**over: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "trace_id": "0f1e6c3a-7c1b-4e7b-9c1e-2f6e5e0b9a11",
        "call_type": "acompletion",
        "status": "success",
        "startTime": START,
        "endTime": START + 2.5,
        "model": "demo-v2",
        "model_group": "support-bot",
        "prompt_tokens": 9,
        "completion_tokens": 17,
        "messages": [{"role": "user", "content": "who is the customer?"}],
        "response": {
            "choices": [
                {"finish_reason": "stop", "message": {"role": "assistant", "content": "Jane."}}
            ]
        },
        "metadata": {"user_api_key_hash": "88dc28d0f0", "user_api_key_end_user_id": None},
        "request_tags": [],
        "end_user": "",
        **over,
    }


def test_a_success_payload_is_a_model_call() -> None:
    [call] = litellm.parse([payload()]).calls
    assert call.system == "support-bot"  # the model group clients asked for
    assert (call.prompt, call.output, call.finish_reasons) == (
        "user: who is the customer?",
        "Jane.",
        ("stop",),
    )
    assert call.duration_ms == pytest.approx(2500)
    assert (call.trace_id, call.span_id) == (payload()["trace_id"], "chatcmpl-1")
    assert call.client is not None and "88dc28d0f0" not in call.client
    assert call.http_status == 200


def test_a_failure_payload_counts_against_availability() -> None:
    failed = payload(
        status="failure", response=None, error_information={"error_code": "503"}, error_str="down"
    )
    [call] = litellm.parse([failed]).calls
    assert (call.error, call.http_status, call.output) == (True, 503, None)


def test_the_system_comes_from_a_tag_then_the_route_then_the_model_group() -> None:
    tagged = payload(request_tags=["team-a", "defib-system:billing"])
    assert litellm.parse([tagged], "other").calls[0].system == "billing"
    assert litellm.parse([payload()], "named").calls[0].system == "named"


def test_arrays_and_ndjson_are_read() -> None:
    one = orjson.dumps(payload())
    assert len(litellm.loads(b"[" + one + b"," + one + b"]")) == 2
    assert len(litellm.loads(one + b"\n" + one + b"\n")) == 2
    with pytest.raises(litellm.LiteLLMError):
        litellm.loads(b"nope")


def test_slack_shaped_alerts_become_typed_native_alerts() -> None:
    hanging = (
        "Level: `Medium`\nTimestamp: `12:00:00`\n\nMessage: `Requests are hanging - 300s+ "
        "request time`\nRequest Model: `support-bot`\nAPI Base: `http://x`"
    )
    outage = "Level: `High`\nTimestamp: `12:00:00`\n\nMessage: 🚨 Major Service Outage"
    parsed = litellm.parse([{"text": hanging}, {"text": outage}, {"text": "Daily Report"}])
    slow, down = parsed.alerts
    assert (slow["type"], slow["severity"], slow["systems"]) == (
        "performance",
        "warning",
        ["support-bot"],
    )
    assert (down["type"], down["severity"]) == ("availability", "critical")
    assert parsed.ignored == 1  # a report is no trouble


def test_budget_webhook_events() -> None:
    crossed = {
        "spend": 1,
        "max_budget": 0,
        "token": "88dc28d0",
        "user_id": "default_user_id",
        "event": "budget_crossed",
        "event_group": "user",
        "event_message": "User Budget: Budget Crossed",
    }
    [alert] = litellm.parse([crossed], "support-bot").alerts
    assert alert["type"] == "performance" and alert["systems"] == ["support-bot"]
    assert alert["dedup_key"].startswith("litellm:support-bot:budget_crossed")
    assert litellm.parse([{**crossed, "event": "key_created"}]).ignored == 1


@pytest.mark.parametrize(
    "item", [[1], [{"hello": "world"}], [payload(startTime="yesterday")], [payload(startTime=None)]]
)
def test_what_is_not_litellm_is_refused_with_the_field(item: list[Any]) -> None:
    with pytest.raises(litellm.LiteLLMError) as refused:
        litellm.parse(item)
    assert refused.value.field.startswith("body")
