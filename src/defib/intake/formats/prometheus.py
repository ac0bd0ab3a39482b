"""Alertmanager API v2 `POST /api/v2/alerts` body (what Prometheus itself sends) → Alerts.

The body is a JSON array of postable alerts `{labels, annotations, startsAt, endsAt,
generatorURL}`. There is no status field: an alert whose `endsAt` lies in the past is
resolved. `now` is a parameter so that this stays a pure function.
"""

from __future__ import annotations

from datetime import UTC, datetime

from defib.intake.formats._common import (
    DEFAULT_SYSTEM_LABELS,
    PayloadError,
    arr,
    explicit_type_from,
    first_text,
    iso,
    join,
    label_hash,
    obj,
    opt_str,
    opt_timestamp,
    soft_number,
    str_map,
    systems_from_labels,
)
from defib.intake.formats.alertmanager import DESCRIPTION_KEYS, signal_from_generator
from defib.model import Alert


def parse(payload: object, *, now: datetime | None = None) -> list[Alert]:
    """Parse a postableAlerts array; every alert is validated before any is returned."""
    items = arr(payload, "")
    at = now if now is not None else datetime.now(UTC)
    return [_parse_alert(item, join("", i), at) for i, item in enumerate(items)]


def _parse_alert(item: object, path: str, now: datetime) -> Alert:
    a = obj(item, path)
    if a.get("labels") is None:
        raise PayloadError(join(path, "labels"), "required field is missing")
    labels = str_map(a["labels"], join(path, "labels"))
    annotations = str_map(a.get("annotations"), join(path, "annotations"))
    alertname = labels.get("alertname", "").strip()
    if not alertname:
        raise PayloadError(
            join(path, "labels.alertname"), "required field is missing (it names the alert)"
        )
    starts_at = opt_timestamp(a, "startsAt", path)
    ends_at = opt_timestamp(a, "endsAt", path)
    generator = opt_str(a, "generatorURL", path)
    status = "resolved" if ends_at is not None and ends_at <= now else "firing"
    signal, threshold = signal_from_generator(generator)
    if threshold is None:
        threshold = soft_number(annotations.get("threshold"))
    return Alert(
        source="prometheus",
        title=alertname,
        description=first_text(annotations, DESCRIPTION_KEYS),
        format="prometheus",
        status=status,
        severity=(labels.get("severity") or "").strip().lower() or None,
        systems=systems_from_labels(labels, DEFAULT_SYSTEM_LABELS),
        labels=labels,
        annotations=annotations,
        identity=alertname,
        delivery_key=f"{label_hash(labels)}@{iso(starts_at)}",
        source_key=label_hash(labels),
        signal=signal,
        value=soft_number(annotations.get("value")),
        threshold=threshold,
        occurred_at=starts_at,
        explicit_type=explicit_type_from(
            (labels, join(path, "labels")), (annotations, join(path, "annotations"))
        ),
        raw=a,
    )
