"""Prometheus Alertmanager webhook (v4) → Alerts; Grafana's webhook reuses the same shape."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from defib.intake.formats._common import (
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
from defib.model import Alert

_STATUSES = ("firing", "resolved")
# Trailing comparison of a PromQL alert expression: `... > 0.10` gives the threshold.
_EXPR_THRESHOLD = re.compile(r"(?:>=|<=|>|<|==|!=)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
_GROUP_CONTEXT_KEYS = ("receiver", "groupKey", "externalURL", "version", "orgId", "title", "state")

DESCRIPTION_KEYS = ("description", "summary", "message")


def parse(payload: object, *, now: datetime | None = None) -> list[Alert]:
    """Parse an Alertmanager webhook payload; every alert is validated before any is returned."""
    del now  # webhook alerts carry their own status
    return parse_grouped(payload, "alertmanager")


def _status(value: object, path: str) -> str | None:
    if value is None:
        return None
    if value not in _STATUSES:
        raise PayloadError(path, f"expected 'firing' or 'resolved', got {value!r:.40}")
    return str(value)


def signal_from_generator(url: str | None) -> tuple[str | None, float | None]:
    """The alert expression Prometheus links to (`g0.expr`) and its threshold, if any."""
    if not url or "expr=" not in url:
        return None, None
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return None, None
    exprs = query.get("g0.expr")
    if not exprs:
        return None, None
    expr = exprs[0].strip()[:300]
    m = _EXPR_THRESHOLD.search(expr)
    return expr or None, (float(m.group(1)) if m else None)


def parse_grouped(payload: object, fmt: str) -> list[Alert]:
    """The Alertmanager-shaped group notification (`fmt` is "alertmanager" or "grafana")."""
    root = obj(payload, "")
    if "alerts" not in root:
        raise PayloadError("alerts", "required field is missing")
    items = arr(root["alerts"], "alerts")
    receiver = opt_str(root, "receiver", "")
    group_status = _status(root.get("status"), "status")
    common_labels = str_map(root.get("commonLabels"), "commonLabels")
    common_annotations = str_map(root.get("commonAnnotations"), "commonAnnotations")
    str_map(root.get("groupLabels"), "groupLabels")
    grafana_message = ""
    if fmt == "grafana":
        state = opt_str(root, "state", "")
        opt_str(root, "title", "")
        grafana_message = opt_str(root, "message", "") or ""
        if group_status is None and state is not None:
            group_status = "resolved" if state.lower() == "ok" else "firing"
    context = {k: root[k] for k in _GROUP_CONTEXT_KEYS if k in root}
    source = f"{fmt}:{receiver}" if receiver else fmt
    return [
        _parse_alert(
            item,
            join("alerts", i),
            fmt=fmt,
            source=source,
            group_status=group_status,
            common_labels=common_labels,
            common_annotations=common_annotations,
            context=context,
            fallback_text=grafana_message if len(items) == 1 else "",
        )
        for i, item in enumerate(items)
    ]


def _parse_alert(
    item: object,
    path: str,
    *,
    fmt: str,
    source: str,
    group_status: str | None,
    common_labels: dict[str, str],
    common_annotations: dict[str, str],
    context: dict[str, Any],
    fallback_text: str,
) -> Alert:
    a = obj(item, path)
    if a.get("labels") is None:
        raise PayloadError(join(path, "labels"), "required field is missing")
    # Alertmanager repeats group labels inside each alert; merging keeps senders that only
    # put shared labels in commonLabels working without letting them override the alert.
    labels = {**common_labels, **str_map(a["labels"], join(path, "labels"))}
    annotations = {
        **common_annotations,
        **str_map(a.get("annotations"), join(path, "annotations")),
    }
    alertname = labels.get("alertname", "").strip()
    if not alertname:
        raise PayloadError(
            join(path, "labels.alertname"), "required field is missing (it names the alert)"
        )
    status = _status(a.get("status"), join(path, "status")) or group_status or "firing"
    starts_at = opt_timestamp(a, "startsAt", path)
    opt_timestamp(a, "endsAt", path)
    generator = opt_str(a, "generatorURL", path)
    fingerprint = opt_str(a, "fingerprint", path) or label_hash(labels)
    signal, threshold = signal_from_generator(generator)
    value = soft_number(annotations.get("value"))
    if fmt == "grafana":
        for key in ("valueString", "dashboardURL", "panelURL", "silenceURL", "imageURL"):
            opt_str(a, key, path)
        values = a.get("values")
        if values is not None:
            vmap = obj(values, join(path, "values"))
            # Grafana lists query results first (A, B...) and the condition (C, 0/1) last; the
            # first one is the measured value.
            for v in vmap.values():
                value = soft_number(v)
                break
    if threshold is None:
        threshold = soft_number(annotations.get("threshold"))
    description = first_text(annotations, DESCRIPTION_KEYS) or fallback_text
    return Alert(
        source=source,
        title=alertname,
        description=description,
        format=fmt,
        status=status,
        severity=(labels.get("severity") or "").strip().lower() or None,
        systems=systems_from_labels(labels),
        labels=labels,
        annotations=annotations,
        identity=alertname,
        delivery_key=f"{fingerprint}@{iso(starts_at)}",
        source_key=fingerprint,
        dedup_key=None,
        signal=signal,
        value=value,
        threshold=threshold,
        occurred_at=starts_at,
        explicit_type=explicit_type_from(
            (labels, join(path, "labels")), (annotations, join(path, "annotations"))
        ),
        raw={**context, **a},
    )
