"""Payload builders shared by the ingest tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DEV_SET = (
    (Path(__file__).parents[2] / "ingest/helpers.py").resolve().parents[3]
    / "shared"
    / "eval"
    / "alerts_dev.jsonl"
)
HELD_OUT = (
    (Path(__file__).parents[2] / "ingest/helpers.py").parent / "data" / "heldout_alerts.jsonl"
)
ZERO = "0001-01-01T00:00:00Z"


def am_alert(**labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "HighLatency", "severity": "warning", "service": "chat", **labels},
        "annotations": {"summary": "p99 latency 4s", "description": "p99 above SLO"},
        "startsAt": "2025-01-08T04:28:31.119Z",
        "endsAt": ZERO,
        "generatorURL": "http://prom:9090/graph?g0.expr=latency_p99%20%3E%202&g0.tab=1",
        "fingerprint": "20260635da276b2d",
    }


def am_payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": "defib-webhook",
        "status": "firing",
        "alerts": list(alerts) or [am_alert()],
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def grafana_payload(*alerts: dict[str, Any], state: str = "alerting") -> dict[str, Any]:
    p = am_payload(*alerts)
    p.update(version="1", orgId=1, title="[FIRING:1] x", state=state, message="**Firing**")
    for a in p["alerts"]:
        a.update(
            values={"A": 0.62, "C": 1},
            valueString="[ var='A' value=0.62 ]",
            dashboardURL="https://g/d",
            panelURL="https://g/p",
            silenceURL="https://g/s",
        )
    return p


def pd_event(action: str = "trigger", **payload: Any) -> dict[str, Any]:
    body = {
        "summary": "p99 latency 14s on support-copilot",
        "source": "support-copilot",
        "severity": "warning",
        "timestamp": "2025-01-19T05:56:22.306+0000",
        "component": "gpt-4o-mini",
        "group": "cx-ai",
        "class": "latency",
        "custom_details": {"description": "p99 latency 14s", "value": 14, "threshold": 6},
        **payload,
    }
    return {
        "routing_key": "r" * 32,
        "event_action": action,
        "dedup_key": "dk-1",
        "payload": body,
        "client": "Datadog",
    }


def native(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": "synthetic-probes",
        "title": "Health check failing: rag-answerer /healthz",
        "description": "connection refused",
        "signal": "probe.http_success",
        "systems": ["rag-answerer"],
        "labels": {"probe": "blackbox"},
        "value": 0,
        "threshold": 1,
        "severity": "high",
        "status": "firing",
        "dedup_key": "probe:1",
        "occurred_at": "2025-01-07T09:14:06Z",
    }
    base.update(fields)
    return base


def dataset(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def clone(x: Any) -> Any:
    return copy.deepcopy(x)
