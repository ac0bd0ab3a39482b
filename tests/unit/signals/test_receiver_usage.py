"""Token usage and finish reasons from OTLP spans and LiteLLM events feed the usage SLO the
gateway uses (issue 29): a breach opens a performance incident naming the calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from defib.model import IncidentType
from tests.support.signals import Api
from tests.unit.signals.test_litellm import payload

TRACE = "5b8efff798038103d269b633813fc60c"
JSON = {"Content-Type": "application/json"}


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, list):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    return {"stringValue": v}


def genai_export(service: str, spans: list[dict[str, Any]]) -> bytes:
    """An OTLP/JSON export of GenAI spans (attributes given as a plain dict) that ended now."""
    now = time.time_ns()
    body = []
    for i, attrs in enumerate(spans):
        body.append(
            {
                "traceId": TRACE,
                "spanId": f"{i + 1:016x}",
                "name": "chat demo-v1",
                "startTimeUnixNano": str(now - 800_000_000),
                "endTimeUnixNano": str(now),
                "attributes": [
                    {"key": k, "value": _value(v)}
                    for k, v in {"gen_ai.operation.name": "chat", **attrs}.items()
                ],
            }
        )
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": body}]}]}
    )


def test_runaway_output_tokens_on_spans_open_a_performance_incident(
    start_api: Callable[..., Api],
) -> None:
    """Five spans reporting 4,000 output tokens each, against a 500-per-call ceiling."""
    usage = {"max_output_tokens_per_call": 500, "min_calls": 5}
    api = start_api(systems=[{"name": "token-bot", "gateway": {"slo": {"usage": usage}}}])
    spans = [{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 4000}] * 5
    answer = api.client.post("/v1/traces", content=genai_export("token-bot", spans), headers=JSON)
    assert answer.status_code == 200, answer.text
    [incident] = api.incidents(system="token-bot", timeout=20)
    assert incident.type is IncidentType.PERFORMANCE
    [alert] = api.alert_payloads()
    assert alert["signal"] == "token_usage"
    assert alert["labels"]["slo"] == "token-bot-tokens-otlp"
    assert alert["labels"]["check"] == "output_tokens_per_call"
    assert alert["value"] == 4000
    assert alert["labels"]["span_ids"].split(",") == [f"{i:016x}" for i in range(1, 6)]
    assert alert["labels"]["trace_ids"] == TRACE


def test_normal_usage_raises_nothing(start_api: Callable[..., Api]) -> None:
    usage = {"max_output_tokens_per_call": 500, "min_calls": 5}
    api = start_api(systems=[{"name": "token-bot", "gateway": {"slo": {"usage": usage}}}])
    spans = [{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 40}] * 5
    assert api.client.post(
        "/v1/traces", content=genai_export("token-bot", spans), headers=JSON
    ).is_success
    assert api.incidents(system="token-bot", timeout=2.5) == []  # two evaluations passed


def test_answers_cut_short_on_spans_open_a_performance_incident(
    start_api: Callable[..., Api],
) -> None:
    """Half the spans end with `length` against a 30% ceiling on abnormal finishes."""
    usage = {"max_abnormal_finish_share": 0.3, "min_calls": 4}
    api = start_api(systems=[{"name": "short-bot", "gateway": {"slo": {"usage": usage}}}])
    spans = [{"gen_ai.response.finish_reasons": [r]} for r in ("stop", "length") * 2]
    assert api.client.post(
        "/v1/traces", content=genai_export("short-bot", spans), headers=JSON
    ).is_success
    [incident] = api.incidents(system="short-bot", timeout=20)
    assert incident.type is IncidentType.PERFORMANCE
    [alert] = api.alert_payloads()
    assert (alert["signal"], alert["labels"]["check"]) == ("finish_reasons", "abnormal_finish")
    assert alert["labels"]["slo"] == "short-bot-finish-otlp"
    # Only the spans that ended abnormally are named.
    assert alert["labels"]["span_ids"].split(",") == [f"{i:016x}" for i in (2, 4)]


def test_a_token_spike_in_litellm_events_opens_a_performance_incident(
    start_api: Callable[..., Api],
) -> None:
    """LiteLLM's logged calls carry prompt_tokens/completion_tokens: 30 calls of 20k tokens
    in the last minutes is 120k tokens a minute, over a 50k ceiling."""
    usage = {"max_tokens_per_minute": 50_000}
    api = start_api(systems=[{"name": "support-bot", "gateway": {"slo": {"usage": usage}}}])
    now = time.time()
    calls = [
        payload(
            id=f"chatcmpl-{i}",
            prompt_tokens=10_000,
            completion_tokens=10_000,
            startTime=now - 10 - i,
            endTime=now - 9 - i,
            response={"choices": [{"finish_reason": "stop", "message": {"content": "Hi."}}]},
        )
        for i in range(30)
    ]
    answer = api.client.post("/api/v1/signals/litellm", json=calls)
    assert answer.status_code == 202, answer.text
    [incident] = api.incidents(system="support-bot", timeout=20)
    assert incident.type is IncidentType.PERFORMANCE
    [alert] = api.alert_payloads()
    assert alert["labels"]["slo"] == "support-bot-tokens-litellm"
    assert alert["labels"]["check"] == "tokens_per_minute"
    assert alert["value"] == 30 * 20_000 / 5
