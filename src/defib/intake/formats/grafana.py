"""Grafana Alerting webhook → Alerts.

Grafana sends the Alertmanager group shape (version "1") plus `orgId`, `title`, `state` and
`message`, and per alert `values`, `valueString` and dashboard/panel/silence URLs. A firing
alert's `endsAt` is Go's zero time, which reads as "no end".
"""

from __future__ import annotations

from datetime import datetime

from defib.intake.formats.alertmanager import parse_grouped
from defib.model import Alert


def parse(payload: object, *, now: datetime | None = None) -> list[Alert]:
    """Parse a Grafana webhook payload; every alert is validated before any is returned."""
    del now
    return parse_grouped(payload, "grafana")
