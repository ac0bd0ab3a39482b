"""Validation helpers shared by the adapters: strict, hand-coded, and naming the failing field.

Hand-coded checks instead of pydantic models because intake runs per alert on the hot path
and because every error must carry the JSON path of the offending field, in the payload's own
vocabulary (``alerts[2].labels.alertname``), which is what a monitor's operator needs to fix it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from defib.model import IncidentType, InvalidInput, unique_systems

# Label names whose values name the model endpoint / service an alert is about. Order
# matters only for display (first-seen); fingerprints sort. Infrastructure coordinates
# (namespace, pod, cluster, node, instance, container) are deliberately absent: they change
# on every reschedule and would split one incident into many.
DEFAULT_SYSTEM_LABELS: tuple[str, ...] = (
    "service",
    "service_name",
    "model",
    "model_name",
    "endpoint",
    "deployment",
    "job",
    "app",
    "application",
)

# Go's zero time: Alertmanager and Grafana send it as endsAt of a still-firing alert.
_GO_ZERO_YEAR = 1


class PayloadError(InvalidInput):
    """A payload that cannot be taken: `field` is the JSON path of the culprit ("" = root)."""

    code = "invalid_payload"

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        where = field or "payload"
        super().__init__(f"{where}: {problem}")


def join(path: str, key: str | int) -> str:
    """Extend a JSON path: ``join("alerts", 2)`` -> ``alerts[2]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def type_name(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def obj(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(path, f"expected an object, got {type_name(value)}")
    return value


def opt_obj(container: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    """An optional object member; absent or null reads as empty."""
    value = container.get(key)
    if value is None:
        return {}
    return obj(value, join(path, key))


def arr(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(path, f"expected an array, got {type_name(value)}")
    return value


def req_str(container: Mapping[str, Any], key: str, path: str, *, nonempty: bool = True) -> str:
    if key not in container or container[key] is None:
        raise PayloadError(join(path, key), "required field is missing")
    value = container[key]
    if not isinstance(value, str):
        raise PayloadError(join(path, key), f"expected a string, got {type_name(value)}")
    if nonempty and not value.strip():
        raise PayloadError(join(path, key), "must not be empty")
    return value


def opt_str(container: Mapping[str, Any], key: str, path: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(join(path, key), f"expected a string, got {type_name(value)}")
    return value


def opt_number(container: Mapping[str, Any], key: str, path: str) -> float | None:
    value = container.get(key)
    if value is None:
        return None
    return number(value, join(path, key))


def number(value: object, path: str) -> float:
    # bool is an int subclass; a monitor sending `true` as a value is a bug worth reporting.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(path, f"expected a number, got {type_name(value)}")
    try:
        result = float(value)
    except OverflowError:
        raise PayloadError(path, "number is too large") from None
    if not math.isfinite(result):
        raise PayloadError(path, "number must be finite")
    return result


def soft_number(value: object) -> float | None:
    """Best-effort number from a free-form field (custom details, annotations); never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:
            return None
        return result if math.isfinite(result) else None
    if isinstance(value, str):
        text = value.strip().rstrip("%")
        try:
            result = float(text)
        except ValueError:
            return None
        if not math.isfinite(result):
            return None
        return result / 100 if value.strip().endswith("%") else result
    return None


def str_map(value: object, path: str) -> dict[str, str]:
    """A labels/annotations object: keys are strings, scalar values become strings.

    Numbers and booleans are accepted and stringified (Prometheus label values are strings,
    but native senders write `{"retries": 3}`); null, arrays and objects are refused because
    no sensible string stands for them.
    """
    if value is None:
        return {}
    mapping = obj(value, path)
    out: dict[str, str] = {}
    for k, v in mapping.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, int | float):
            if isinstance(v, float) and not math.isfinite(v):
                raise PayloadError(join(path, k), "number must be finite")
            try:
                out[k] = str(v)
            except ValueError:  # ints beyond Python's str conversion limit
                raise PayloadError(join(path, k), "number is too large") from None
        else:
            raise PayloadError(join(path, k), f"expected a string, got {type_name(v)}")
    return out


def timestamp(value: object, path: str) -> datetime | None:
    """Parse an RFC 3339 timestamp to aware UTC; Go's zero time reads as None.

    A timestamp without an offset is taken as UTC (some senders drop the `Z`); a bare date
    is refused because it is ambiguous to the hour.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(path, f"expected an RFC 3339 timestamp string, got {type_name(value)}")
    text = value.strip()
    if len(text) < 16 or text[10] not in "Tt ":
        raise PayloadError(path, f"not an RFC 3339 timestamp: {value[:40]!r}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(path, f"not an RFC 3339 timestamp: {value[:40]!r}") from None
    if parsed.year == _GO_ZERO_YEAR:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise PayloadError(path, f"timestamp out of range: {value[:40]!r}") from None


def opt_timestamp(container: Mapping[str, Any], key: str, path: str) -> datetime | None:
    return timestamp(container.get(key), join(path, key))


def label_hash(labels: Mapping[str, str]) -> str:
    """Stable 16-hex id of a label set (Alertmanager's fingerprint when the sender omits it)."""
    h = hashlib.sha256()
    for k in sorted(labels):
        h.update(k.encode())
        h.update(b"\x1f")
        h.update(labels[k].encode())
        h.update(b"\x1e")
    return h.hexdigest()[:16]


def iso(dt: datetime | None) -> str:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else ""


def systems_from_labels(
    labels: Mapping[str, str], names: Iterable[str] = DEFAULT_SYSTEM_LABELS
) -> tuple[str, ...]:
    """Values of the system-naming labels, in `names` order, unique, blanks dropped."""
    return unique_systems([labels[n] for n in names if n in labels])


def first_text(mapping: Mapping[str, str], keys: Sequence[str]) -> str:
    for k in keys:
        v = mapping.get(k)
        if v and v.strip():
            return v.strip()
    return ""


EXPLICIT_TYPE_KEY = "ai_incident_type"
_TYPE_VALUES = ", ".join(t.value for t in IncidentType)


def incident_type(value: object, path: str) -> IncidentType | None:
    """An explicit incident type; null or "" means none given, anything else must be valid."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(path, f"expected an incident type string, got {type_name(value)}")
    text = value.strip().lower().replace("-", "_").replace(" ", "_")
    if not text:
        return None
    try:
        return IncidentType(text)
    except ValueError:
        raise PayloadError(
            path, f"unknown incident type {value[:40]!r}; one of {_TYPE_VALUES}"
        ) from None


def explicit_type_from(*sources: tuple[Mapping[str, Any], str]) -> IncidentType | None:
    """The first `ai_incident_type` found among (mapping, path) pairs."""
    for mapping, path in sources:
        if EXPLICIT_TYPE_KEY in mapping:
            found = incident_type(mapping[EXPLICIT_TYPE_KEY], join(path, EXPLICIT_TYPE_KEY))
            if found is not None:
                return found
    return None
