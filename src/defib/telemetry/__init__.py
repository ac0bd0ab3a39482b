"""Prometheus metrics: per-process counters and database-derived series in one registry.

Two kinds of series, kept apart on purpose (docs/metrics.md):

- **Per process** (`defib_alerts_*`, `defib_gateway_*`): counted by the process that did
  the work, lost on restart like any Prometheus counter. Sum them over instances.
- **From the database** (`defib_incidents_*`, `defib_incident_time_to_*`,
  `defib_playbook_*`, `defib_engine_*`): read from the shared database, identical on
  every replica. Take `max` over instances, never `sum`, or an incident counts twice.

Each Runtime owns its own registry: no process-global state, so tests and embedded
Responders never see each other's counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from defib.store.database import Database
from defib.telemetry.buckets import GATEWAY_ADDED_BUCKETS, GATEWAY_TOTAL_BUCKETS
from defib.telemetry.database import DatabaseCollector
from defib.telemetry.oncall import OncallCollector

__all__ = ["MEDIA_TYPE", "Telemetry"]


class Telemetry:
    """The registry a process serves at /metrics, and the counters it increments."""

    def __init__(self, db: Database | None, *, cache_seconds: float = 5.0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.alerts_received = Counter(
            "defib_alerts_received",
            "Alerts this process took in, by payload format and what intake did with each "
            "(created, merged, reopened, duplicate, ignored, cleared, resolved...). Per process.",
            ["format", "action"],
            registry=r,
        )
        self.alerts_rejected = Counter(
            "defib_alerts_rejected",
            "Alert payloads refused before anything was stored (reason: not_json, "
            "invalid_payload, unknown_format). Per process.",
            ["reason"],
            registry=r,
        )
        self.intake_errors = Counter(
            "defib_alert_intake_errors",
            "Alert payloads that failed while being stored (the sender got a 5xx). Per process.",
            registry=r,
        )
        self.gateway_requests = Counter(
            "defib_gateway_requests",
            "Completion requests the gateway answered, by system and HTTP status. Per process.",
            ["system", "status"],
            registry=r,
        )
        self.gateway_duration = Histogram(
            "defib_gateway_request_duration_seconds",
            "Whole completion requests through the gateway, upstream included. Per process.",
            ["system"],
            buckets=GATEWAY_TOTAL_BUCKETS,
            registry=r,
        )
        self.gateway_added = Histogram(
            "defib_gateway_added_latency_seconds",
            "What the gateway adds to a request that reached the model: the request's time "
            "minus the upstream's. Per process.",
            ["system"],
            buckets=GATEWAY_ADDED_BUCKETS,
            registry=r,
        )
        self.database: DatabaseCollector | None = None
        if db is not None:
            self.database = DatabaseCollector(db, cache_seconds=cache_seconds)
            r.register(self.database)
            r.register(OncallCollector(db, cache_seconds=cache_seconds))

    def count_alerts(self, formats: Sequence[str], actions: Sequence[str]) -> None:
        """One intake batch: the i-th alert's format and the i-th result's action."""
        for fmt, action in zip(formats, actions, strict=False):
            self.alerts_received.labels(fmt, action).inc()

    def observe_gateway(
        self, system: str, status: int, seconds: float, upstream_seconds: float | None
    ) -> None:
        self.gateway_requests.labels(system, str(status)).inc()
        self.gateway_duration.labels(system).observe(seconds)
        if upstream_seconds is not None:
            self.gateway_added.labels(system).observe(max(0.0, seconds - upstream_seconds))

    def render(self) -> bytes:
        """The Prometheus text exposition (version 0.0.4), which every Prometheus reads."""
        return generate_latest(self.registry)


MEDIA_TYPE = CONTENT_TYPE_LATEST
