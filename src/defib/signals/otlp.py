"""OTLP/HTTP trace and log exports → model calls and content events (pure).

Both OTLP encodings are read: protobuf (`ExportTraceServiceRequest`,
`ExportLogsServiceRequest`) and OTLP's JSON (lowerCamelCase keys, hex ids, 64-bit integers
as strings; snake_case keys are accepted too). Only GenAI spans become `ModelCall`s: a span
with no `gen_ai.*` (or OpenInference `llm.*`, or `defib.*`) attribute or event is skipped
after one look at its attribute keys, without decoding anything else of it.

Where instrumentations put message content, all read here:

- span attributes, current conventions: `gen_ai.input.messages`, `gen_ai.output.messages`,
  `gen_ai.system_instructions` (JSON text on spans, structured values on log events);
- older attributes: `gen_ai.prompt` / `gen_ai.completion` (text or JSON), OpenLLMetry's
  indexed `gen_ai.prompt.N.content` / `gen_ai.completion.N.content`, OpenInference's
  `input.value` / `output.value`;
- events (on the span, or as log records joined later by trace and span id):
  `gen_ai.content.prompt` / `gen_ai.content.completion`, `gen_ai.{system,user,assistant,
  tool}.message`, `gen_ai.choice`, `gen_ai.client.inference.operation.details`.

Error tree: `OtlpError` (the body cannot be read at all: a 400). A span that can be read
but not used (no ids, no start time) is counted in `rejected`, OTLP's partial success.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from defib.signals.calls import (
    ModelCall,
    as_int,
    clip,
    documents_text,
    finish_reasons_of,
    loads_maybe,
    messages_text,
    system_name,
)

Encoding = Literal["protobuf", "json"]

_GENAI_PREFIXES = ("gen_ai.", "llm.", "openinference.", "defib.")
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


# -- values -------------------------------------------------------------------------------


def _pb_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value
    return None


def _pb_attrs(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value) for kv in kvs}


def _get(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _json_value(v: object) -> Any:
    if not isinstance(v, Mapping):
        return None
    for camel, snake in (
        ("stringValue", "string_value"),
        ("boolValue", "bool_value"),
        ("doubleValue", "double_value"),
    ):
        if camel in v or snake in v:
            return _get(v, camel, snake)
    if "intValue" in v or "int_value" in v:
        return as_int(_get(v, "intValue", "int_value"))
    array = _get(v, "arrayValue", "array_value")
    if isinstance(array, Mapping):
        values = array.get("values")
        return [_json_value(x) for x in values] if isinstance(values, list) else []
    kvlist = _get(v, "kvlistValue", "kvlist_value")
    if isinstance(kvlist, Mapping):
        return _json_attrs(kvlist.get("values"))
    raw = _get(v, "bytesValue", "bytes_value")
    if isinstance(raw, str):
        try:
            return base64.b64decode(raw)
        except (binascii.Error, ValueError):
            return None
    return None


def _json_attrs(kvs: object) -> dict[str, Any]:
    if not isinstance(kvs, list):
        return {}
    return {
        kv["key"]: _json_value(kv.get("value"))
        for kv in kvs
        if isinstance(kv, Mapping) and isinstance(kv.get("key"), str)
    }


def _json_genai(kvs: object) -> bool:
    return isinstance(kvs, list) and any(
        isinstance(kv, Mapping) and str(kv.get("key", "")).startswith(_GENAI_PREFIXES) for kv in kvs
    )


def _hex_id(value: object, length: int) -> str | None:
    """A JSON id (hex; some senders send base64 as protobuf's JSON mapping does)."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) == length:
        try:
            bytes.fromhex(value)
            return value.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) * 2 == length and any(raw) else None


def _pb_id(raw: bytes, length: int) -> str | None:
    return raw.hex() if len(raw) * 2 == length and any(raw) else None


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


# -- content ------------------------------------------------------------------------------


def _indexed(attrs: Mapping[str, Any], prefix: str, roles: bool) -> str | None:
    """OpenLLMetry's `gen_ai.prompt.0.role` / `gen_ai.prompt.0.content` pairs, in order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, name = key[len(prefix) :].partition(".")
        if index.isdigit() and name in ("content", "role"):
            found.setdefault(int(index), {})[name] = value
    if not found:
        return None
    messages = [found[i] for i in sorted(found)]
    return messages_text(messages, roles=roles)


def _joined(*parts: str | None) -> str | None:
    texts = [p for p in parts if p]
    return clip("\n".join(texts)) if texts else None


def _prompt_of(attrs: Mapping[str, Any]) -> str | None:
    instructions = attrs.get("gen_ai.system_instructions")
    system = (
        messages_text(instructions, roles=False, default_role="system")
        if instructions is not None
        else None
    )
    for key in ("gen_ai.input.messages", "gen_ai.prompt"):
        if key in attrs:
            return _joined(system and f"system: {system}", messages_text(attrs[key], roles=True))
    indexed = _indexed(attrs, "gen_ai.prompt.", roles=True)
    if indexed is not None:
        return indexed
    value = attrs.get("input.value")  # OpenInference
    return clip(value) if isinstance(value, str) else (system and f"system: {system}")


def _output_of(attrs: Mapping[str, Any]) -> str | None:
    for key in ("gen_ai.output.messages", "gen_ai.completion"):
        if key in attrs:
            return messages_text(attrs[key], roles=False, default_role="assistant")
    indexed = _indexed(attrs, "gen_ai.completion.", roles=False)
    if indexed is not None:
        return indexed
    value = attrs.get("output.value")  # OpenInference
    return clip(value) if isinstance(value, str) else None


def event_content(
    name: str, attrs: Mapping[str, Any], body: object = None
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(prompt, output, finish reasons) one GenAI event carries, from its attributes or body."""
    if name == "gen_ai.client.inference.operation.details":
        return (
            _prompt_of(attrs),
            _output_of(attrs),
            finish_reasons_of(attrs.get("gen_ai.output.messages")),
        )
    if name == "gen_ai.content.prompt":
        value = attrs.get("gen_ai.prompt", body)
        return messages_text(value, roles=True), None, ()
    if name == "gen_ai.content.completion":
        value = attrs.get("gen_ai.completion", body)
        return None, messages_text(value, roles=False, default_role="assistant"), ()
    # Older per-message events: content in the body (log records) or in attributes (span
    # events cannot have a body; some instrumentations put it in `content` or `message`).
    payload = body if body is not None else _event_payload(attrs)
    if name == "gen_ai.choice":
        return None, messages_text(payload, roles=False), finish_reasons_of([payload])
    if name.startswith("gen_ai.") and name.endswith(".message"):
        role = name[len("gen_ai.") : -len(".message")]
        return messages_text(payload, roles=True, default_role=role), None, ()
    return None, None, ()


def _event_payload(attrs: Mapping[str, Any]) -> object:
    for key in ("gen_ai.event.content", "message", "content"):
        if key in attrs:
            value = loads_maybe(attrs[key])
            return {"content": value} if key == "content" and isinstance(value, str) else value
    return None


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
    prompt, output = _prompt_of(attrs), _output_of(attrs)
    finish = finish_reasons_of(attrs.get("gen_ai.output.messages"))
    for name, event_attrs in events:
        p, o, f = event_content(name, event_attrs)
        prompt = _joined(prompt, p) if p else prompt
        output = _joined(output, o) if o else output
        finish = finish or f
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, list | tuple):
        finish = tuple(str(r) for r in reasons) or finish
    status = as_int(attrs.get("http.response.status_code"))
    return ModelCall(
        system=system_name(
            attrs.get("defib.system"), resource.get("defib.system"), resource.get("service.name")
        ),
        at=_time(start_ns),
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
    return any(kv.key.startswith(_GENAI_PREFIXES) for kv in span.attributes) or any(
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
                ids = _checked(
                    batch, _pb_id(span.trace_id, 32), _pb_id(span.span_id, 16), start, end
                )
                if ids is None:
                    continue
                trace_id, span_id = ids
                if resource is None:
                    resource = _pb_attrs(rs.resource.attributes)
                call = _call(
                    resource,
                    trace_id,
                    span_id,
                    start,
                    end,
                    span.status.code == _STATUS_ERROR,
                    _pb_attrs(span.attributes),
                    [(e.name, _pb_attrs(e.attributes)) for e in span.events],
                )
                if call is None:
                    batch.skipped += 1
                else:
                    batch.calls.append(call)


def _list(obj: Mapping[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    value = _get(obj, camel, snake)
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
        resource = _json_attrs(
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
                if not _json_genai(span.get("attributes")) and not any(
                    str(e.get("name", "")).startswith("gen_ai.") for e in events
                ):
                    batch.skipped += 1
                    continue
                start = _ns(_get(span, "startTimeUnixNano", "start_time_unix_nano"))
                end = _ns(_get(span, "endTimeUnixNano", "end_time_unix_nano"))
                ids = _checked(
                    batch,
                    _hex_id(_get(span, "traceId", "trace_id"), 32),
                    _hex_id(_get(span, "spanId", "span_id"), 16),
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
                    _json_attrs(span.get("attributes")),
                    [(str(e.get("name", "")), _json_attrs(e.get("attributes"))) for e in events],
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
        at=_time(ns),
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
                    attrs = _pb_attrs(record.attributes)
                    name = str(attrs.get("event.name", ""))
                if not name.startswith("gen_ai."):
                    batch.skipped += 1
                    continue
                if resource is None:
                    resource = _pb_attrs(rl.resource.attributes)
                event = _log_event(
                    resource,
                    name,
                    attrs if attrs is not None else _pb_attrs(record.attributes),
                    _pb_value(record.body) if record.HasField("body") else None,
                    record.time_unix_nano or record.observed_time_unix_nano or now_ns,
                    _pb_id(record.trace_id, 32),
                    _pb_id(record.span_id, 16),
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
        resource = _json_attrs(
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
                attrs = _json_attrs(record.get("attributes"))
                name = str(_get(record, "eventName", "event_name") or attrs.get("event.name", ""))
                if not name.startswith("gen_ai."):
                    batch.skipped += 1
                    continue
                ns = _ns(_get(record, "timeUnixNano", "time_unix_nano")) or _ns(
                    _get(record, "observedTimeUnixNano", "observed_time_unix_nano")
                )
                event = _log_event(
                    resource,
                    name,
                    attrs,
                    _json_value(record.get("body")),
                    ns or now_ns,
                    _hex_id(_get(record, "traceId", "trace_id"), 32),
                    _hex_id(_get(record, "spanId", "span_id"), 16),
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
