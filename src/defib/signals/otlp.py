"""OTLP/HTTP trace and log exports → model calls and content events (pure).

Both OTLP encodings are read: protobuf (`ExportTraceServiceRequest`,
`ExportLogsServiceRequest`) and OTLP's JSON (lowerCamelCase keys, hex ids, 64-bit integers
as strings; snake_case keys are accepted too). Only GenAI spans become `ModelCall`s: a span
with no `gen_ai.*` (or OpenInference `llm.*`, or `defib.*`) attribute or event is skipped
after one look at its attribute keys, without decoding anything else of it.

Where GenAI instrumentations put message content is read by `defib.signals.genai_content`.

Error tree: `OtlpError` (the body cannot be read at all: a 400). A span that can be read
but not used (no ids, no start time) is counted in `rejected`, OTLP's partial success.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from defib.signals.calls import ModelCall, as_int, documents_text, finish_reasons_of, system_name
from defib.signals.genai_content import event_content, joined, output_of, prompt_of
from defib.signals.otlp_values import (
    GENAI_PREFIXES,
    hex_id,
    instant,
    json_attrs,
    json_genai,
    json_value,
    pb_attrs,
    pb_id,
    pb_value,
    pick,
)

__all__ = [
    "MAX_REASONS",
    "Batch",
    "ContentEvent",
    "Encoding",
    "ModelCall",
    "OtlpError",
    "decode_logs",
    "decode_traces",
    "event_content",
    "logs_answer",
    "traces_answer",
]

Encoding = Literal["protobuf", "json"]

# Operations that are not a model answering (their model calls have spans of their own).
_NOT_CALLS = frozenset(
    {"embeddings", "execute_tool", "create_agent", "invoke_agent", "invoke_workflow", "retrieval"}
)
_STATUS_ERROR = 2
MAX_REASONS = 5


class OtlpError(ValueError):
    """The export cannot be read at all."""


@dataclass(frozen=True, slots=True)
class ContentEvent:
    """Message content a GenAI log event carried for one span."""

    system: str
    at: datetime
    trace_id: str | None
    span_id: str | None
    prompt: str | None = None
    output: str | None = None
    finish_reasons: tuple[str, ...] = ()
    model: str | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.trace_id, self.span_id) if self.trace_id and self.span_id else None


@dataclass(slots=True)
class Batch:
    """What one export held: the GenAI records, how many items were read, which were refused."""

    calls: list[ModelCall] = field(default_factory=list)
    events: list[ContentEvent] = field(default_factory=list)
    seen: int = 0
    skipped: int = 0  # not GenAI: accepted and dropped
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, why: str) -> None:
        self.rejected += 1
        if len(self.reasons) < MAX_REASONS and why not in self.reasons:
            self.reasons.append(why)

    @property
    def error_message(self) -> str:
        return "; ".join(self.reasons)


# -- spans --------------------------------------------------------------------------------


def _call(
    resource: Mapping[str, Any],
    trace_id: str,
    span_id: str,
    start_ns: int,
    end_ns: int,
    error: bool,
    attrs: Mapping[str, Any],
    events: Sequence[tuple[str, Mapping[str, Any]]],
) -> ModelCall | None:
    """The model call a GenAI span records, or None when the span is not one."""
    operation = attrs.get("gen_ai.operation.name")
    if operation in _NOT_CALLS:
        return None
    kind = attrs.get("openinference.span.kind")
    if kind is not None and str(kind).upper() != "LLM":
        return None
    prompt, output = prompt_of(attrs), output_of(attrs)
    finish = finish_reasons_of(attrs.get("gen_ai.output.messages"))
    for name, event_attrs in events:
        p, o, f = event_content(name, event_attrs)
        prompt = joined(prompt, p) if p else prompt
        output = joined(output, o) if o else output
        finish = finish or f
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, list | tuple):
        finish = tuple(str(r) for r in reasons) or finish
    status = as_int(attrs.get("http.response.status_code"))
    return ModelCall(
        system=system_name(
            attrs.get("defib.system"), resource.get("defib.system"), resource.get("service.name")
        ),
        at=instant(start_ns),
        duration_ms=(end_ns - start_ns) / 1e6,
        trace_id=trace_id,
        span_id=span_id,
        output=output,
        prompt=prompt,
        context=documents_text(attrs.get("defib.context", attrs.get("gen_ai.retrieval.documents"))),
        error=error or "error.type" in attrs,
        status_code=status if status is not None and status >= 400 else None,
        finish_reasons=finish,
        input_tokens=as_int(
            attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
        ),
        output_tokens=as_int(
            attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
        ),
        model=_str(attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"))
        or _str(attrs.get("llm.model_name")),
        user=_str(attrs.get("enduser.id") or attrs.get("user.id")),
    )


def _str(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _checked(
    batch: Batch, trace_id: str | None, span_id: str | None, start_ns: int, end_ns: int
) -> tuple[str, str] | None:
    """The span's (trace id, span id) when it is usable; else it is counted as rejected."""
    if trace_id is None or span_id is None:
        batch.reject("a GenAI span without a valid traceId and spanId")
        return None
    if start_ns <= 0:
        batch.reject(f"span {span_id}: startTimeUnixNano is missing")
        return None
    if end_ns < start_ns:
        batch.reject(f"span {span_id}: ends before it starts")
        return None
    return trace_id, span_id


def _pb_genai(span: Any) -> bool:
    return any(kv.key.startswith(GENAI_PREFIXES) for kv in span.attributes) or any(
        e.name.startswith("gen_ai.") for e in span.events
    )


def _pb_spans(request: ExportTraceServiceRequest, batch: Batch) -> None:
    for rs in request.resource_spans:
        resource: dict[str, Any] | None = None
        for ss in rs.scope_spans:
            for span in ss.spans:
                batch.seen += 1
                if not _pb_genai(span):
                    batch.skipped += 1
                    continue
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                ids = _checked(batch, pb_id(span.trace_id, 32), pb_id(span.span_id, 16), start, end)
                if ids is None:
                    continue
                trace_id, span_id = ids
                if resource is None:
                    resource = pb_attrs(rs.resource.attributes)
                call = _call(
                    resource,
                    trace_id,
                    span_id,
                    start,
                    end,
                    span.status.code == _STATUS_ERROR,
                    pb_attrs(span.attributes),
                    [(e.name, pb_attrs(e.attributes)) for e in span.events],
                )
                if call is None:
                    batch.skipped += 1
                else:
                    batch.calls.append(call)


def _list(obj: Mapping[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    value = pick(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{where}{camel} must be an array")
    return value


def _ns(value: object) -> int:
    return as_int(value) or 0


def _status_error(status: object) -> bool:
    if not isinstance(status, Mapping):
        return False
    code = status.get("code")
    return code in (_STATUS_ERROR, "STATUS_CODE_ERROR")


def _json_spans(root: Mapping[str, Any], batch: Batch) -> None:
    for i, rs in enumerate(_list(root, "resourceSpans", "resource_spans", "")):
        if not isinstance(rs, Mapping):
            raise OtlpError(f"resourceSpans[{i}] must be an object")
        resource_obj = rs.get("resource")
        resource = json_attrs(
            resource_obj.get("attributes") if isinstance(resource_obj, Mapping) else None
        )
        scopes = _list(rs, "scopeSpans", "scope_spans", f"resourceSpans[{i}].")
        for ss in scopes:
            spans = _list(ss, "spans", "spans", "scopeSpans.") if isinstance(ss, Mapping) else []
            for span in spans:
                batch.seen += 1
                if not isinstance(span, Mapping):
                    batch.reject("a span that is not an object")
                    continue
                events = [e for e in span.get("events") or [] if isinstance(e, Mapping)]
                if not json_genai(span.get("attributes")) and not any(
                    str(e.get("name", "")).startswith("gen_ai.") for e in events
                ):
                    batch.skipped += 1
                    continue
                start = _ns(pick(span, "startTimeUnixNano", "start_time_unix_nano"))
                end = _ns(pick(span, "endTimeUnixNano", "end_time_unix_nano"))
                ids = _checked(
                    batch,
                    hex_id(pick(span, "traceId", "trace_id"), 32),
                    hex_id(pick(span, "spanId", "span_id"), 16),
                    start,
                    end,
                )
                if ids is None:
                    continue
                trace_id, span_id = ids
                call = _call(
                    resource,
                    trace_id,
                    span_id,
                    start,
                    end,
                    _status_error(span.get("status")),
                    json_attrs(span.get("attributes")),
                    [(str(e.get("name", "")), json_attrs(e.get("attributes"))) for e in events],
                )
                if call is None:
                    batch.skipped += 1
                else:
                    batch.calls.append(call)


def _parse(body: bytes, encoding: Encoding, message: type[Any], what: str) -> Any:
    if encoding == "protobuf":
        try:
            return message.FromString(body)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise OtlpError(f"body is not a protobuf {what}: {exc}") from exc
    try:
        root = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise OtlpError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(root, dict):
        raise OtlpError(f"body must be a JSON object (an OTLP {what})")
    return root


def decode_traces(body: bytes, encoding: Encoding) -> Batch:
    """The model calls of one `ExportTraceServiceRequest`."""
    batch = Batch()
    parsed = _parse(body, encoding, ExportTraceServiceRequest, "ExportTraceServiceRequest")
    if encoding == "protobuf":
        _pb_spans(parsed, batch)
    else:
        _json_spans(parsed, batch)
    return batch


# -- logs ---------------------------------------------------------------------------------


def _log_event(
    resource: Mapping[str, Any],
    name: str,
    attrs: Mapping[str, Any],
    body: object,
    ns: int,
    trace_id: str | None,
    span_id: str | None,
) -> ContentEvent | None:
    prompt, output, finish = event_content(name, attrs, body)
    if prompt is None and output is None:
        return None
    return ContentEvent(
        system=system_name(
            attrs.get("defib.system"), resource.get("defib.system"), resource.get("service.name")
        ),
        at=instant(ns),
        trace_id=trace_id,
        span_id=span_id,
        prompt=prompt,
        output=output,
        finish_reasons=finish,
        model=_str(attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")),
    )


def _pb_logs(request: ExportLogsServiceRequest, batch: Batch, now_ns: int) -> None:
    for rl in request.resource_logs:
        resource: dict[str, Any] | None = None
        for sl in rl.scope_logs:
            for record in sl.log_records:
                batch.seen += 1
                name = record.event_name
                attrs: dict[str, Any] | None = None
                if not name:
                    # Before the event_name field, events named themselves in an attribute.
                    attrs = pb_attrs(record.attributes)
                    name = str(attrs.get("event.name", ""))
                if not name.startswith("gen_ai."):
                    batch.skipped += 1
                    continue
                if resource is None:
                    resource = pb_attrs(rl.resource.attributes)
                event = _log_event(
                    resource,
                    name,
                    attrs if attrs is not None else pb_attrs(record.attributes),
                    pb_value(record.body) if record.HasField("body") else None,
                    record.time_unix_nano or record.observed_time_unix_nano or now_ns,
                    pb_id(record.trace_id, 32),
                    pb_id(record.span_id, 16),
                )
                _add_event(batch, event)


def _add_event(batch: Batch, event: ContentEvent | None) -> None:
    if event is None:
        batch.skipped += 1
    else:
        batch.events.append(event)


def _json_logs(root: Mapping[str, Any], batch: Batch, now_ns: int) -> None:
    for i, rl in enumerate(_list(root, "resourceLogs", "resource_logs", "")):
        if not isinstance(rl, Mapping):
            raise OtlpError(f"resourceLogs[{i}] must be an object")
        resource_obj = rl.get("resource")
        resource = json_attrs(
            resource_obj.get("attributes") if isinstance(resource_obj, Mapping) else None
        )
        for sl in _list(rl, "scopeLogs", "scope_logs", f"resourceLogs[{i}]."):
            records = (
                _list(sl, "logRecords", "log_records", "scopeLogs.")
                if isinstance(sl, Mapping)
                else []
            )
            for record in records:
                batch.seen += 1
                if not isinstance(record, Mapping):
                    batch.reject("a log record that is not an object")
                    continue
                attrs = json_attrs(record.get("attributes"))
                name = str(pick(record, "eventName", "event_name") or attrs.get("event.name", ""))
                if not name.startswith("gen_ai."):
                    batch.skipped += 1
                    continue
                ns = _ns(pick(record, "timeUnixNano", "time_unix_nano")) or _ns(
                    pick(record, "observedTimeUnixNano", "observed_time_unix_nano")
                )
                event = _log_event(
                    resource,
                    name,
                    attrs,
                    json_value(record.get("body")),
                    ns or now_ns,
                    hex_id(pick(record, "traceId", "trace_id"), 32),
                    hex_id(pick(record, "spanId", "span_id"), 16),
                )
                _add_event(batch, event)


def decode_logs(body: bytes, encoding: Encoding, now: datetime) -> Batch:
    """The GenAI content events of one `ExportLogsServiceRequest`."""
    batch = Batch()
    now_ns = int(now.timestamp() * 1e9)
    parsed = _parse(body, encoding, ExportLogsServiceRequest, "ExportLogsServiceRequest")
    if encoding == "protobuf":
        _pb_logs(parsed, batch, now_ns)
    else:
        _json_logs(parsed, batch, now_ns)
    return batch


# -- answers ------------------------------------------------------------------------------


def _answer(
    batch: Batch, encoding: Encoding, make: Callable[[], Any], count_field: str, json_count: str
) -> bytes:
    response = make()
    if batch.rejected:
        partial = response.partial_success
        setattr(partial, count_field, batch.rejected)
        partial.error_message = batch.error_message
    if encoding == "protobuf":
        return bytes(response.SerializeToString())
    if not batch.rejected:
        return b"{}"
    return orjson.dumps(
        {"partialSuccess": {json_count: str(batch.rejected), "errorMessage": batch.error_message}}
    )


def traces_answer(batch: Batch, encoding: Encoding) -> bytes:
    """An `ExportTraceServiceResponse`: empty, or a partial success naming the rejected spans."""
    return _answer(batch, encoding, ExportTraceServiceResponse, "rejected_spans", "rejectedSpans")


def logs_answer(batch: Batch, encoding: Encoding) -> bytes:
    """An `ExportLogsServiceResponse`, likewise for log records."""
    return _answer(
        batch, encoding, ExportLogsServiceResponse, "rejected_log_records", "rejectedLogRecords"
    )
