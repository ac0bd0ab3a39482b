"""Real OpenTelemetry parts for the tests: the SDK, its OTLP encoders, the openai instrumentation.

The spans and log records here are made by OpenTelemetry's own code (the instrumentation of
the official `openai` client, or the SDK's tracer), never written by hand, so the receiver is
tested against what instrumented applications really send.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"


@contextmanager
def capture_mode(mode: str) -> Iterator[None]:
    """Content capture as the instrumentation reads it (`span_only`, `event_only`...)."""
    old = {k: os.environ.get(k) for k in (CONTENT_ENV, OPT_IN_ENV)}
    os.environ[CONTENT_ENV] = mode
    os.environ[OPT_IN_ENV] = "gen_ai_latest_experimental"
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Recorder:
    """A tracer and logger provider that keep what they record, for one service."""

    def __init__(self, service: str, **resource: Any) -> None:
        res = Resource.create({"service.name": service, **resource})
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        self.tracer_provider = TracerProvider(resource=res)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.logger_provider = LoggerProvider(resource=res)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))

    def traces_protobuf(self) -> bytes:
        return bytes(encode_spans(self.finished()).SerializeToString())

    def logs_protobuf(self) -> bytes:
        return bytes(encode_logs(self.logs.get_finished_logs()).SerializeToString())

    def finished(self) -> Sequence[ReadableSpan]:
        return self.spans.get_finished_spans()


@contextmanager
def instrumented_openai(recorder: Recorder) -> Iterator[None]:
    """The official openai instrumentation, writing to `recorder`, for the block's duration."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=recorder.tracer_provider, logger_provider=recorder.logger_provider
    )
    try:
        yield
    finally:
        instrumentor.uninstrument()


def _hex_ids(value: Any) -> Any:
    """OTLP's JSON differs from protobuf's JSON mapping: trace and span ids are hex."""
    import base64

    if isinstance(value, dict):
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
            else _hex_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(v) for v in value]
    return value


def otlp_json(message: Any) -> dict[str, Any]:
    """A protobuf export request in OTLP/JSON (lowerCamelCase keys, hex ids)."""
    from google.protobuf.json_format import MessageToDict

    converted: dict[str, Any] = _hex_ids(MessageToDict(message))
    return converted
