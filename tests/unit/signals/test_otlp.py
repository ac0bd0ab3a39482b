"""Reading OTLP exports (pure): where each instrumentation generation puts message content.

The current conventions are checked against what the official openai instrumentation really
emits (tests/unit/signals/test_receiver.py); the older shapes below are written from the GenAI
semantic conventions and the instrumentations' documented attributes and events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from defib.signals import otlp

T0 = 1_765_000_000_000_000_000
TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, list):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": _value(x)} for k, x in v.items()]}}
    return {"stringValue": v}


def _attrs(**attrs: Any) -> list[dict[str, Any]]:
    return [{"key": k.replace("__", "."), "value": _value(v)} for k, v in attrs.items()]


def _export(
    attrs: dict[str, Any],
    events: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    service: str = "chat-api",
    **span: Any,
) -> bytes:
    body = {
        "traceId": TRACE,
        "spanId": SPAN,
        "name": "chat gpt-4o",
        "startTimeUnixNano": str(T0),
        "endTimeUnixNano": str(T0 + 1_500_000_000),
        "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
        "events": [
            {
                "name": n,
                "timeUnixNano": str(T0),
                "attributes": [{"key": k, "value": _value(v)} for k, v in a.items()],
            }
            for n, a in events
        ],
        **span,
    }
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                    },
                    "scopeSpans": [{"scope": {"name": "x"}, "spans": [body]}],
                }
            ]
        }
    )


def _one(body: bytes) -> otlp.ModelCall:
    batch = otlp.decode_traces(body, "json")
    assert batch.rejected == 0, batch.reasons
    [call] = batch.calls
    return call


def test_span_fields_become_a_model_call() -> None:
    """Ids, times, system, usage, finish reasons and model are read from the span."""
    call = _one(
        _export(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 40,
                "gen_ai.response.finish_reasons": ["length"],
                "enduser.id": "u-7",
            }
        )
    )
    assert (call.trace_id, call.span_id) == (TRACE, SPAN)
    assert call.system == "chat-api"
    assert call.at == datetime.fromtimestamp(T0 / 1e9, UTC)
    assert call.duration_ms == pytest.approx(1500.0)
    assert (call.input_tokens, call.output_tokens) == (12, 40)
    assert call.finish_reasons == ("length",)
    assert call.model == "gpt-4o-2024-08-06"
    assert call.user == "u-7"
    assert call.output is None  # no content captured: only the SLOs learn from it
    assert call.http_status == 200


def test_an_error_status_counts_as_a_server_error() -> None:
    call = _one(_export({"gen_ai.operation.name": "chat"}, status={"code": 2, "message": "boom"}))
    assert call.error and call.http_status == 500
    typed = _one(_export({"gen_ai.operation.name": "chat", "error.type": "RateLimitError"}))
    assert typed.http_status == 500


def test_defib_system_attribute_wins_over_the_service_name() -> None:
    call = _one(_export({"gen_ai.operation.name": "chat", "defib.system": "Billing Bot!"}))
    assert call.system == "Billing-Bot"  # made a valid system name
    unnamed = _one(_export({"gen_ai.operation.name": "chat"}, service="unknown_service:python"))
    assert unnamed.system == "unknown_service"


@pytest.mark.parametrize(
    ("attrs", "events"),
    [
        # Current conventions, as JSON text on the span.
        (
            {
                "gen_ai.input.messages": orjson.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "Q?"}]}]
                ).decode(),
                "gen_ai.output.messages": orjson.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": "A."}],
                            "finish_reason": "stop",
                        }
                    ]
                ).decode(),
            },
            [],
        ),
        # Semconv 1.26 and earlier: gen_ai.prompt / gen_ai.completion on content events.
        (
            {},
            [
                ("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role": "user", "content": "Q?"}]'}),
                (
                    "gen_ai.content.completion",
                    {"gen_ai.completion": '[{"role": "assistant", "content": "A."}]'},
                ),
            ],
        ),
        # OpenLLMetry: indexed attributes.
        (
            {
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "Q?",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": "A.",
            },
            [],
        ),
        # Per-message span events with the content in an attribute.
        (
            {},
            [
                ("gen_ai.user.message", {"content": "Q?"}),
                ("gen_ai.choice", {"message": '{"role": "assistant", "content": "A."}'}),
            ],
        ),
    ],
)
def test_content_is_read_wherever_the_instrumentation_put_it(
    attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]]
) -> None:
    call = _one(_export({"gen_ai.operation.name": "chat", **attrs}, events))
    assert call.prompt == "user: Q?"
    assert call.output == "A."


def test_openinference_llm_spans_are_read_and_other_kinds_skipped() -> None:
    llm = {
        "openinference.span.kind": "LLM",
        "input.value": "Q?",
        "output.value": "A.",
        "llm.model_name": "m",
    }
    call = _one(_export(llm))
    assert (call.prompt, call.output, call.model) == ("Q?", "A.", "m")
    batch = otlp.decode_traces(_export({**llm, "openinference.span.kind": "CHAIN"}), "json")
    assert batch.calls == [] and batch.skipped == 1


def test_retrieval_context_on_the_span_is_read() -> None:
    docs = orjson.dumps([{"id": "1", "content": "Refunds take 5 days."}, "Shipping is free."])
    docs_text = docs.decode()
    call = _one(_export({"gen_ai.operation.name": "chat", "gen_ai.retrieval.documents": docs_text}))
    assert call.context == "Refunds take 5 days.\n\nShipping is free."
    assert _one(_export({"defib.context": ["a", "b"]})).context == "a\n\nb"


def test_non_model_operations_and_plain_spans_are_skipped() -> None:
    for attrs in ({"gen_ai.operation.name": "embeddings"}, {"http.route": "/"}):
        batch = otlp.decode_traces(_export(attrs), "json")
        assert (batch.calls, batch.seen, batch.skipped) == ([], 1, 1)


def test_unusable_spans_are_rejected_and_named() -> None:
    bad_ids = otlp.decode_traces(_export({"gen_ai.system": "openai"}, spanId="zz"), "json")
    backwards = otlp.decode_traces(
        _export({"gen_ai.system": "openai"}, endTimeUnixNano=str(T0 - 1)), "json"
    )
    assert (bad_ids.rejected, backwards.rejected) == (1, 1)
    assert "spanId" in bad_ids.error_message and "ends before" in backwards.error_message
    answer = ExportTraceServiceResponse.FromString(otlp.traces_answer(bad_ids, "protobuf"))
    assert answer.partial_success.rejected_spans == 1
    assert (
        orjson.loads(otlp.traces_answer(backwards, "json"))["partialSuccess"]["rejectedSpans"]
        == "1"
    )


@pytest.mark.parametrize(
    "body",
    [b"[]", b"not json", b'{"resourceSpans": {}}', b'{"resourceSpans": [1]}'],
)
def test_bodies_that_are_no_export_raise(body: bytes) -> None:
    with pytest.raises(otlp.OtlpError):
        otlp.decode_traces(body, "json")


def test_garbage_protobuf_raises() -> None:
    with pytest.raises(otlp.OtlpError):
        otlp.decode_traces(b"\xff\xff\xff\xff", "protobuf")


def _logs(name: str, body: Any = None, **attrs: Any) -> bytes:
    record: dict[str, Any] = {
        "timeUnixNano": str(T0),
        "eventName": name,
        "traceId": TRACE,
        "spanId": SPAN,
        "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()],
    }
    if body is not None:
        record["body"] = _value(body)
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]
                    },
                    "scopeLogs": [{"logRecords": [record]}],
                }
            ]
        }
    )


def test_log_events_carry_content_for_their_span() -> None:
    """Semconv 1.27-1.30 events (content in the body) and today's details event."""
    now = datetime.now(UTC)
    [choice] = otlp.decode_logs(
        _logs("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"content": "A."}}),
        "json",
        now,
    ).events
    assert (choice.key, choice.output, choice.finish_reasons) == ((TRACE, SPAN), "A.", ("stop",))
    [user] = otlp.decode_logs(_logs("gen_ai.user.message", {"content": "Q?"}), "json", now).events
    assert (user.prompt, user.output, user.system) == ("user: Q?", None, "bot")
    details = _logs(
        "gen_ai.client.inference.operation.details",
        **{
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": "Q"}]}
            ],
            "gen_ai.output.messages": [
                {"role": "assistant", "parts": [{"type": "text", "content": "A"}]}
            ],
        },
    )
    [both] = otlp.decode_logs(details, "json", now).events
    assert (both.prompt, both.output) == ("user: Q", "A")
    other = otlp.decode_logs(_logs("http.request", "x"), "json", now)
    assert other.events == [] and other.skipped == 1
