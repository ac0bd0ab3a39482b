"""POST /v1/traces and /v1/logs: OTLP exports from OpenTelemetry's own SDK and the official
openai instrumentation open incidents through the gateway's detection, on both databases."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from openai import OpenAI
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import select

from defib.auth import Role
from defib.gateway.server import ThreadedServer
from defib.model import IncidentType
from defib.store.tables import captures
from tests.support.signals import Api
from tests.support.signals.otel import Recorder, capture_mode, instrumented_openai, otlp_json

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
LEAK = [{"role": "user", "content": "who is the customer on account 4?"}]
SYSTEM = {"name": "support-bot"}


def _ask(upstream: ThreadedServer, recorder: Recorder, mode: str, model: str = "demo-v2") -> str:
    """One chat completion through the instrumented official client; its answer."""
    client = OpenAI(base_url=f"{upstream.url}/v1", api_key="unused", max_retries=0)
    with capture_mode(mode), instrumented_openai(recorder):
        reply = client.chat.completions.create(model=model, messages=LEAK)  # type: ignore[arg-type]
    return reply.choices[0].message.content or ""


def test_a_leaking_span_opens_a_data_leak_incident_naming_the_span(
    start_api: Callable[..., Api], upstream: ThreadedServer
) -> None:
    """The instrumented client's span (content on the span) raises a data_leak incident on the
    service's system, with the span's trace and span ids and a masked sample."""
    api = start_api(systems=[SYSTEM])
    recorder = Recorder("support-bot")
    assert "jane.doe@example.com" in _ask(upstream, recorder, "span_only")
    [span] = recorder.finished()
    trace_id, span_id = f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"

    answer = api.client.post("/v1/traces", content=recorder.traces_protobuf(), headers=PROTOBUF)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(answer.content).HasField("partial_success")

    [incident] = api.incidents(system="support-bot")
    assert incident.type is IncidentType.DATA_LEAK
    [payload] = api.alert_payloads()
    assert payload["source"] == "defib-otlp"
    assert payload["signal"] == "otlp.data_leak"
    assert payload["labels"]["trace_ids"] == trace_id
    assert payload["labels"]["span_ids"] == span_id
    assert payload["labels"]["request_ids"] == f"{trace_id}:{span_id}"
    assert payload["labels"]["unechoed_requests"] == "1"  # the prompt held no such data
    [sample] = payload["samples"]
    assert "jane.doe@example.com" not in sample["response"] and "[EMAIL]" in sample["response"]
    assert sample["span_id"] == span_id
    with api.runtime.db.read() as conn:
        [row] = conn.execute(select(captures)).mappings().all()
    assert row["request_id"] == f"{trace_id}:{span_id}"
    assert row["system"] == "support-bot"
    assert "123-45-6789" not in row["response"]  # masked at rest


def test_json_gzip_exports_read_like_protobuf(
    start_api: Callable[..., Api], upstream: ThreadedServer
) -> None:
    """OTLP/JSON (hex ids, camelCase) with gzip Content-Encoding opens the same incident."""
    api = start_api()  # no systems configured: the service's name is adopted
    recorder = Recorder("billing-assistant")
    _ask(upstream, recorder, "span_only")
    body = orjson.dumps(otlp_json(encode_spans(recorder.finished())))
    answer = api.client.post(
        "/v1/traces", content=gzip.compress(body), headers={**JSON, "Content-Encoding": "gzip"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {}
    [incident] = api.incidents(system="billing-assistant")
    assert incident.type is IncidentType.DATA_LEAK


@pytest.mark.parametrize("logs_first", [True, False])
def test_event_only_content_is_joined_to_its_span(
    start_api: Callable[..., Api], upstream: ThreadedServer, logs_first: bool
) -> None:
    """With content in log events only, /v1/logs supplies it to the span, whichever comes first."""
    api = start_api(systems=[SYSTEM])
    recorder = Recorder("support-bot")
    _ask(upstream, recorder, "event_only")
    [span] = recorder.finished()
    assert "gen_ai.output.messages" not in (span.attributes or {})  # content is in the logs
    posts = [
        ("/v1/logs", recorder.logs_protobuf()),
        ("/v1/traces", recorder.traces_protobuf()),
    ]
    for path, body in posts if logs_first else posts[::-1]:
        assert api.client.post(path, content=body, headers=PROTOBUF).status_code == 200
    [incident] = api.incidents(system="support-bot")
    assert incident.type is IncidentType.DATA_LEAK
    [payload] = api.alert_payloads()
    assert payload["labels"]["span_ids"] == f"{span.context.span_id:016x}"
    assert payload["labels"]["unechoed_requests"] == "1"  # the prompt came along too


def test_span_durations_trip_the_latency_slo(start_api: Callable[..., Api]) -> None:
    """GenAI spans slower than the system's latency threshold open a performance incident."""
    api = start_api(
        systems=[{"name": "slow-bot", "gateway": {"slo": {"latency_threshold_ms": 200}}}]
    )
    recorder = Recorder("slow-bot")
    tracer = recorder.tracer_provider.get_tracer("test")
    end = datetime.now(UTC)
    for i in range(20):
        start = end - timedelta(seconds=2, milliseconds=i)
        span = tracer.start_span(
            "chat demo-v1",
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "demo-v1"},
            start_time=int(start.timestamp() * 1e9),
        )
        span.end(end_time=int(end.timestamp() * 1e9))
    assert (
        api.client.post("/v1/traces", content=recorder.traces_protobuf(), headers=PROTOBUF)
    ).status_code == 200
    [incident] = api.incidents(system="slow-bot", timeout=20)
    assert incident.type is IncidentType.PERFORMANCE
    [payload] = api.alert_payloads()
    assert payload["labels"]["slo"] == "slow-bot-latency-otlp"
    # The latest spans that burned the budget are named for the evidence.
    spans = [f"{s.context.span_id:016x}" for s in recorder.finished()]
    assert payload["labels"]["span_ids"].split(",") == spans[-10:]


def test_spans_without_gen_ai_attributes_are_dropped(start_api: Callable[..., Api]) -> None:
    """A service's ordinary spans are accepted and leave nothing behind."""
    api = start_api()
    recorder = Recorder("web")
    tracer = recorder.tracer_provider.get_tracer("test")
    for _ in range(5):
        with tracer.start_as_current_span("GET /", attributes={"http.route": "/"}):
            pass
    answer = api.client.post("/v1/traces", content=recorder.traces_protobuf(), headers=PROTOBUF)
    assert answer.status_code == 200
    assert api.hub.otlp.submitted == 0
    assert api.incidents(timeout=0.5) == []


def test_unusable_genai_spans_are_a_partial_success(start_api: Callable[..., Api]) -> None:
    """A GenAI span without ids is rejected and named; the others in the export are taken."""
    api = start_api()
    now = str(time.time_ns())
    good = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": now,
        "endTimeUnixNano": now,
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.completion", "value": {"stringValue": "Hello."}},
        ],
    }
    bad = {**good, "spanId": ""}
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "x"}}]
                },
                "scopeSpans": [{"spans": [good, bad]}],
            }
        ]
    }
    answer = api.client.post("/v1/traces", json=body)
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "spanId" in partial["errorMessage"]
    assert api.hub.otlp.submitted == 1


def test_refusals_are_json_errors(start_api: Callable[..., Api]) -> None:
    """No token 401, a viewer token 403, other media 415, garbage 400, a gzip bomb 413."""
    api = start_api(max_body_bytes=4096)
    post = api.client.post
    viewer = {"Authorization": f"Bearer {api.tokens[Role.VIEWER]}"}
    cases = [
        (post("/v1/traces", content=b"", headers={**PROTOBUF, "Authorization": ""}), 401),
        (post("/v1/traces", content=b"", headers={**PROTOBUF, **viewer}), 403),
        (post("/v1/traces", content=b"{}", headers={"Content-Type": "text/plain"}), 415),
        (post("/v1/traces", content=b"\xff\xff\xff", headers=PROTOBUF), 400),
        (post("/v1/logs", content=b"[1]", headers=JSON), 400),
        (post("/v1/traces", content=b"{}", headers={**JSON, "Content-Encoding": "gzip"}), 400),
        (post("/v1/traces", content=b"{}", headers={**JSON, "Content-Encoding": "br"}), 415),
        (
            post(
                "/v1/traces",
                content=gzip.compress(b" " * (4096 * 17)),
                headers={**JSON, "Content-Encoding": "gzip"},
            ),
            413,
        ),
        (post("/v1/traces", content=b" " * 5000, headers=JSON), 413),
    ]
    for answer, status in cases:
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["message"]


def test_a_full_detection_queue_asks_the_exporter_to_retry(start_api: Callable[..., Api]) -> None:
    """Rather than shed spans unexamined, a busy receiver answers 503 with Retry-After (which
    OTLP exporters retry); once the queue drains it takes exports again."""
    api = start_api()
    queue = api.hub.otlp._pending
    queue.extend([None] * 9_500)  # type: ignore[list-item]
    refused = api.client.post("/v1/traces", content=b"", headers=PROTOBUF)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    queue.clear()
    assert api.client.post("/v1/traces", content=b"", headers=PROTOBUF).status_code == 200
