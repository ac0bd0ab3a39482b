# ruff: noqa: E501
"""Writes defib-dashboard.json (run: python3 contrib/grafana/build_dashboard.py).

Kept as code so panels stay consistent; the JSON is committed for people who import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DB = "max without (instance, pod)"  # database-derived series: identical on every replica
DS = {"type": "prometheus", "uid": "${datasource}"}


def panel(
    pid: int, title: str, exprs: list[tuple[str, str]], x: int, y: int, *, kind: str = "timeseries",
    unit: str = "short", w: int = 8, h: int = 8, description: str = "",
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def quantiles(metric: str, by: str, window: str) -> list[tuple[str, str]]:
    inner = f"sum by (le, {by}) ({DB} (increase({metric}_bucket[{window}])))"
    return [
        (f"histogram_quantile(0.5, {inner})", f"p50 {{{{{by}}}}}"),
        (f"histogram_quantile(0.9, {inner})", f"p90 {{{{{by}}}}}"),
    ]


def build() -> dict[str, Any]:
    panels = [
        panel(1, "Open incidents by severity", [(f"sum by (severity) ({DB} (defib_incidents_open))", "{{severity}}")], 0, 0, kind="stat", w=6, h=5),
        panel(2, "Open incidents by type", [(f"sum by (type) ({DB} (defib_incidents_open))", "{{type}}")], 6, 0, kind="stat", w=6, h=5),
        panel(3, "Workers alive", [(f"{DB} (defib_engine_executors_alive)", "workers")], 12, 0, kind="stat", w=4, h=5),
        panel(4, "Oldest busy run", [(f"{DB} (defib_playbook_oldest_busy_run_age_seconds)", "age")], 16, 0, kind="stat", unit="s", w=4, h=5),
        panel(5, "Database readable", [("min(defib_database_up)", "up")], 20, 0, kind="stat", w=4, h=5),
        panel(6, "Incidents opened (per hour)", [(f"sum by (type) ({DB} (increase(defib_incidents_opened_total[1h])))", "{{type}}")], 0, 5),
        panel(7, "Time to acknowledge (7 d window)", quantiles("defib_incident_time_to_acknowledge_seconds", "severity", "7d"), 8, 5, unit="s"),
        panel(8, "Time to mitigate (7 d window)", quantiles("defib_incident_time_to_mitigate_seconds", "severity", "7d"), 16, 5, unit="s"),
        panel(9, "Time to resolve (7 d window)", quantiles("defib_incident_time_to_resolve_seconds", "severity", "7d"), 0, 13, unit="s"),
        panel(10, "Alerts taken in by action", [("sum by (action) (rate(defib_alerts_received_total[5m]))", "{{action}}")], 8, 13, unit="reqps", description="Per process: summed over replicas."),
        panel(11, "Alert intake problems", [("sum by (reason) (rate(defib_alerts_rejected_total[5m]))", "rejected {{reason}}"), ("sum(rate(defib_alert_intake_errors_total[5m]))", "storage errors")], 16, 13, unit="reqps"),
        panel(12, "Playbook runs ended (per hour)", [(f"sum by (playbook, status) ({DB} (increase(defib_playbook_runs_total[1h])))", "{{playbook}} {{status}}")], 0, 21),
        panel(13, "Active playbook runs", [(f"sum by (status) ({DB} (defib_playbook_runs_active))", "{{status}}")], 8, 21),
        panel(14, "Step duration p90 by action (1 h)", [(f"histogram_quantile(0.9, sum by (le, action) ({DB} (increase(defib_playbook_step_duration_seconds_bucket[1h]))))", "{{action}}")], 16, 21, unit="s"),
        panel(15, "Gateway requests by status", [("sum by (system, status) (rate(defib_gateway_requests_total[5m]))", "{{system}} {{status}}")], 0, 29, unit="reqps"),
        panel(16, "Gateway added latency", [("histogram_quantile(0.5, sum by (le) (rate(defib_gateway_added_latency_seconds_bucket[5m])))", "p50"), ("histogram_quantile(0.99, sum by (le) (rate(defib_gateway_added_latency_seconds_bucket[5m])))", "p99")], 8, 29, unit="s"),
        panel(17, "Gateway request duration p90", [("histogram_quantile(0.9, sum by (le, system) (rate(defib_gateway_request_duration_seconds_bucket[5m])))", "{{system}}")], 16, 29, unit="s"),
    ]  # fmt: skip
    return {
        "title": "defib",
        "uid": "defib-overview",
        "description": "defib: incidents, response times, playbooks, intake and gateway (docs/metrics.md).",
        "tags": ["defib", "incident-response"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("defib-dashboard.json")
    out.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
