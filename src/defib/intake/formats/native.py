"""defib's native alert (one JSON object) → one Alert.

The published contract is `defib/schemas/native_alert.schema.json`; this module is its
hand-coded twin (faster than a schema validator, and its errors name the field). Keep them in
step: tests validate the dev payloads against the schema and check both agree on edge cases.
"""

from __future__ import annotations

import re
from datetime import datetime

from defib.intake.formats._common import (
    EXPLICIT_TYPE_KEY,
    PayloadError,
    arr,
    incident_type,
    iso,
    join,
    obj,
    opt_number,
    opt_str,
    opt_timestamp,
    req_str,
    str_map,
    type_name,
)
from defib.model import Alert, Sample, unique_systems

# Canonical words plus the lenient aliases senders actually use; the policy maps them.
SEVERITIES = ("critical", "high", "warning", "low", "info", "error", "minor", "none", "medium")
STATUSES = ("firing", "resolved")
_SPACES = re.compile(r"\s+")


def parse(payload: object, *, now: datetime | None = None) -> list[Alert]:
    """Parse one native alert object."""
    del now
    root = obj(payload, "")
    # `source` is optional so the smallest alert (type, title, systems) is enough.
    source = opt_str(root, "source", "") or "native"
    title = req_str(root, "title", "")
    description = opt_str(root, "description", "") or ""
    signal = opt_str(root, "signal", "")
    systems = _systems(root.get("systems"))
    labels = str_map(root.get("labels"), "labels")
    value = opt_number(root, "value", "")
    threshold = opt_number(root, "threshold", "")
    severity = opt_str(root, "severity", "")
    if severity is not None:
        severity = severity.strip().lower()
        if severity not in SEVERITIES:
            raise PayloadError(
                "severity", f"expected one of {', '.join(SEVERITIES)}; got {severity[:40]!r}"
            )
    status = opt_str(root, "status", "") or "firing"
    if status not in STATUSES:
        raise PayloadError("status", f"expected 'firing' or 'resolved', got {status[:40]!r}")
    dedup_key = opt_str(root, "dedup_key", "")
    if dedup_key is not None and not dedup_key.strip():
        dedup_key = None
    occurred_at = opt_timestamp(root, "occurred_at", "")
    explicit = incident_type(root.get("type"), "type")
    if explicit is None and EXPLICIT_TYPE_KEY in labels:
        explicit = incident_type(labels[EXPLICIT_TYPE_KEY], join("labels", EXPLICIT_TYPE_KEY))
    samples = _samples(root.get("samples"))
    delivery_key = (
        f"{dedup_key}@{iso(occurred_at)}" if dedup_key and occurred_at is not None else None
    )
    return [
        Alert(
            source=source,
            title=title,
            description=description,
            format="native",
            status=status,
            severity=severity,
            systems=systems,
            labels=labels,
            annotations={},
            identity=dedup_key or _SPACES.sub(" ", title.strip().lower()),
            delivery_key=delivery_key,
            source_key=dedup_key,
            dedup_key=dedup_key,
            signal=signal,
            value=value,
            threshold=threshold,
            occurred_at=occurred_at,
            explicit_type=explicit,
            samples=samples,
            raw=root,
        )
    ]


def _systems(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = arr(value, "systems")
    for i, s in enumerate(items):
        if not isinstance(s, str):
            raise PayloadError(join("systems", i), f"expected a string, got {type_name(s)}")
    return unique_systems(items)


def _samples(value: object) -> tuple[Sample, ...]:
    if value is None:
        return ()
    out = []
    for i, item in enumerate(arr(value, "samples")):
        path = join("samples", i)
        s = obj(item, path)
        out.append(
            Sample(
                prompt=opt_str(s, "prompt", path) or "",
                response=opt_str(s, "response", path) or "",
                user_id=opt_str(s, "user_id", path),
                context=opt_str(s, "context", path),
            )
        )
    return tuple(out)
