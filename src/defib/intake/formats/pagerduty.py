"""PagerDuty Events API v2 event → one Alert."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from defib.intake.formats._common import (
    PayloadError,
    explicit_type_from,
    obj,
    opt_str,
    opt_timestamp,
    req_str,
    soft_number,
    type_name,
)
from defib.model import Alert, unique_systems

ACTIONS = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}
SEVERITIES = ("critical", "error", "warning", "info")
# custom_details keys that, by convention across senders, carry the prose / the measurement.
_TEXT_KEYS = ("description", "details", "message", "body", "text")
_SIGNAL_KEYS = ("metric", "signal", "metric_name", "monitor", "eval_name")
_VALUE_KEYS = ("value", "current", "current_value", "error_rate", "observed")
_THRESHOLD_KEYS = ("threshold", "limit", "slo")
_MAX_DETAIL_CHARS = 4000
_SNAKE = re.compile(r"[_\-]+")


def parse(payload: object, *, now: datetime | None = None) -> list[Alert]:
    """Parse one Events API v2 event (trigger, acknowledge or resolve)."""
    del now
    root = obj(payload, "")
    action = req_str(root, "event_action", "")
    if action not in ACTIONS:
        raise PayloadError(
            "event_action", f"expected one of trigger, acknowledge, resolve; got {action[:40]!r}"
        )
    opt_str(root, "routing_key", "")
    dedup_key = opt_str(root, "dedup_key", "")
    if dedup_key is not None and not dedup_key.strip():
        dedup_key = None
    if action != "trigger" and dedup_key is None:
        # Without it PagerDuty (and defib) cannot tell which alert to acknowledge/resolve.
        raise PayloadError("dedup_key", f"required for event_action {action!r}")
    client = opt_str(root, "client", "")
    opt_str(root, "client_url", "")

    body: dict[str, Any] = {}
    if root.get("payload") is not None:
        body = obj(root["payload"], "payload")
    elif action == "trigger":
        raise PayloadError("payload", "required for event_action 'trigger'")
    # PagerDuty only requires these on trigger; on other actions they are informative.
    if action == "trigger":
        summary = req_str(body, "summary", "payload")
        source = req_str(body, "source", "payload")
        severity: str | None = req_str(body, "severity", "payload")
    else:
        summary = opt_str(body, "summary", "payload") or ""
        source = opt_str(body, "source", "payload") or ""
        severity = opt_str(body, "severity", "payload")
    if severity is not None:
        severity = severity.strip().lower()
        if severity not in SEVERITIES:
            raise PayloadError(
                "payload.severity",
                f"expected one of critical, error, warning, info; got {severity[:40]!r}",
            )
    occurred_at = opt_timestamp(body, "timestamp", "payload")
    component = opt_str(body, "component", "payload")
    group = opt_str(body, "group", "payload")
    klass = opt_str(body, "class", "payload")
    details_raw = body.get("custom_details")
    details: Mapping[str, Any] = details_raw if isinstance(details_raw, dict) else {}

    labels = {
        k: v
        for k, v in (
            ("source", source),
            ("component", component),
            ("group", group),
            ("class", klass),
        )
        if v
    }
    annotations = {k: _scalar_text(v) for k, v in details.items() if _is_scalar(v)}
    identity = dedup_key or _identity_from(summary, source)
    return [
        Alert(
            source=client or "pagerduty",
            title=summary or dedup_key or "",
            description=_details_text(details_raw),
            format="pagerduty",
            status=ACTIONS[action],
            severity=severity,
            systems=unique_systems([s for s in (source, component) if s]),
            labels=labels,
            annotations=annotations,
            identity=identity,
            # The status is part of re-delivery detection already (see store.alerts): a
            # repeated trigger is a duplicate until a resolve, and the next trigger counts.
            delivery_key=dedup_key,
            source_key=dedup_key,
            dedup_key=dedup_key,
            signal=_first_str(details, _SIGNAL_KEYS) or klass,
            value=_first_number(details, _VALUE_KEYS),
            threshold=_first_number(details, _THRESHOLD_KEYS),
            occurred_at=occurred_at,
            explicit_type=explicit_type_from((details, "payload.custom_details")),
            raw=root,
        )
    ]


def _identity_from(summary: str, source: str) -> str:
    return f"{source}:{summary}" if source else summary


def _is_scalar(v: object) -> bool:
    return isinstance(v, str | int | float | bool)


def _scalar_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _first_str(details: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = details.get(k)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def _first_number(details: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for k in keys:
        if k in details:
            n = soft_number(details[k])
            if n is not None:
                return n
    return None


def _details_text(details: object) -> str:
    """custom_details as prose: the free-text keys first, then `key: value` lines."""
    if details is None:
        return ""
    if isinstance(details, str):
        return details[:_MAX_DETAIL_CHARS]
    if not isinstance(details, dict):
        return _flatten(details)[:_MAX_DETAIL_CHARS]
    lines = [details[k].strip() for k in _TEXT_KEYS if isinstance(details.get(k), str)]
    for k, v in details.items():
        if k in _TEXT_KEYS and isinstance(v, str):
            continue
        lines.append(f"{_SNAKE.sub(' ', k)}: {_flatten(v)}")
    return "\n".join(line for line in lines if line)[:_MAX_DETAIL_CHARS]


def _flatten(v: object, depth: int = 0) -> str:
    if depth > 4:
        return "…"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_flatten(x, depth + 1)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_flatten(x, depth + 1) for x in v)
    if v is None:
        return "null"
    if isinstance(v, str | int | float | bool):
        return _scalar_text(v)
    return type_name(v)
