"""Payload adapters: whatever a monitor sends → `list[Alert]`, validated whole or not at all.

`parse_payload` auto-detects the format unless told; a payload that cannot be taken raises
`PayloadError`, whose `.field` is the JSON path of the culprit (``alerts[2].labels.alertname``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from defib.intake.formats import alertmanager, grafana, native, pagerduty, prometheus
from defib.intake.formats._common import DEFAULT_SYSTEM_LABELS, PayloadError, systems_from_labels
from defib.model import Alert

FORMATS = ("alertmanager", "grafana", "pagerduty", "prometheus", "native")

_PARSERS: dict[str, Callable[..., list[Alert]]] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "pagerduty": pagerduty.parse,
    "prometheus": prometheus.parse,
    "native": native.parse,
}

# Alerts whose system names come from labels (and so can be re-derived with other label names).
LABELLED_FORMATS = frozenset({"alertmanager", "grafana", "prometheus"})

_GRAFANA_MARKERS = ("orgId", "state", "title", "message")


def detect_format(payload: object) -> str:
    """Name the format of a decoded JSON payload, or raise PayloadError if it is none of them."""
    if isinstance(payload, list):
        return "prometheus"
    if isinstance(payload, dict):
        if "alerts" in payload:
            # Grafana's webhook is Alertmanager's plus a few top-level fields; version "1"
            # alone is not enough (other Alertmanager look-alikes send it too).
            if any(k in payload for k in _GRAFANA_MARKERS) or payload.get("version") == "1":
                return "grafana"
            return "alertmanager"
        if "event_action" in payload or ("routing_key" in payload and "payload" in payload):
            return "pagerduty"
        if "title" in payload and (
            "source" in payload or "systems" in payload or "type" in payload
        ):
            return "native"
        raise PayloadError(
            "",
            "unrecognised payload: expected an Alertmanager/Grafana webhook (`alerts`), "
            "a PagerDuty event (`event_action`), a native alert (`source` and `title`) "
            "or a Prometheus alerts array",
        )
    raise PayloadError("", f"expected a JSON object or array, got {type(payload).__name__}")


def parse_payload(
    payload: object, fmt: str | None = None, *, now: datetime | None = None
) -> list[Alert]:
    """Decoded JSON payload → alerts in payload order; `now` decides Prometheus alerts' status."""
    name = detect_format(payload) if fmt is None else fmt
    parser = _PARSERS.get(name)
    if parser is None:
        raise PayloadError("format", f"unknown format {name!r}; one of {', '.join(FORMATS)}")
    return parser(payload, now=now)


__all__ = [
    "DEFAULT_SYSTEM_LABELS",
    "FORMATS",
    "LABELLED_FORMATS",
    "PayloadError",
    "detect_format",
    "parse_payload",
    "systems_from_labels",
]
