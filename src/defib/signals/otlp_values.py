"""OTLP attribute values, ids and timestamps in both encodings (pure).

Protobuf values come from the generated `AnyValue`/`KeyValue` messages; OTLP/JSON values are
lowerCamelCase mappings (snake_case accepted too) with 64-bit integers as strings and ids in
hex (some senders send base64, as protobuf's JSON mapping does).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from defib.signals.calls import as_int

# Attribute keys that mark a span or record as GenAI (OpenInference's `llm.*` too).
GENAI_PREFIXES = ("gen_ai.", "llm.", "openinference.", "defib.")


def pb_value(v: AnyValue) -> Any:
    """An OTLP protobuf `AnyValue` as a Python value (bytes stay bytes)."""
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
        return [pb_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: pb_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value
    return None


def pb_attrs(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    """Protobuf attributes as a mapping."""
    return {kv.key: pb_value(kv.value) for kv in kvs}


def pick(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    """The lowerCamelCase key OTLP/JSON uses, else the snake_case one some senders use."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def json_value(v: object) -> Any:
    """An OTLP/JSON `AnyValue` (64-bit integers arrive as strings, bytes as base64)."""
    if not isinstance(v, Mapping):
        return None
    for camel, snake in (
        ("stringValue", "string_value"),
        ("boolValue", "bool_value"),
        ("doubleValue", "double_value"),
    ):
        if camel in v or snake in v:
            return pick(v, camel, snake)
    if "intValue" in v or "int_value" in v:
        return as_int(pick(v, "intValue", "int_value"))
    array = pick(v, "arrayValue", "array_value")
    if isinstance(array, Mapping):
        values = array.get("values")
        return [json_value(x) for x in values] if isinstance(values, list) else []
    kvlist = pick(v, "kvlistValue", "kvlist_value")
    if isinstance(kvlist, Mapping):
        return json_attrs(kvlist.get("values"))
    raw = pick(v, "bytesValue", "bytes_value")
    if isinstance(raw, str):
        try:
            return base64.b64decode(raw)
        except (binascii.Error, ValueError):
            return None
    return None


def json_attrs(kvs: object) -> dict[str, Any]:
    """OTLP/JSON attributes as a mapping; malformed entries are left out."""
    if not isinstance(kvs, list):
        return {}
    return {
        kv["key"]: json_value(kv.get("value"))
        for kv in kvs
        if isinstance(kv, Mapping) and isinstance(kv.get("key"), str)
    }


def json_genai(kvs: object) -> bool:
    """Whether any attribute key marks a GenAI record (a look at the keys alone)."""
    return isinstance(kvs, list) and any(
        isinstance(kv, Mapping) and str(kv.get("key", "")).startswith(GENAI_PREFIXES) for kv in kvs
    )


def hex_id(value: object, length: int) -> str | None:
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


def pb_id(raw: bytes, length: int) -> str | None:
    """A protobuf trace or span id as hex; None when its length is wrong or it is all zero."""
    return raw.hex() if len(raw) * 2 == length and any(raw) else None


def instant(ns: int) -> datetime:
    """Nanoseconds since the epoch as a UTC instant."""
    return datetime.fromtimestamp(ns / 1e9, UTC)
