"""Series derived from the database: the same on every replica, cached for a few seconds.

These describe incidents and playbook runs, which live in the shared database; a process
that counted them itself would miss what other replicas and workers did. Every replica
serves the same values, so dashboards take `max` over instances, never `sum`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from defib.store import metrics as q
from defib.store.database import Database
from defib.telemetry.buckets import RESPONSE_BUCKETS, STEP_BUCKETS, Histogram, collect

log = logging.getLogger(__name__)

OPEN = ("detected", "acknowledged", "mitigated")
ACTIVE_RUNS = ("pending", "running", "waiting_approval")
# An executor whose heartbeat is older than this is not counted as alive.
EXECUTOR_ALIVE_SECONDS = 30.0

_STAMP_DOC = {
    "acknowledge": "acknowledged",
    "mitigate": "mitigated",
    "resolve": "resolved",
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the database-derived series need, read in one transaction."""

    taken_at: datetime
    incidents: list[q.IncidentCount]
    durations: dict[str, dict[tuple[str, ...], Histogram]]
    runs: list[q.RunCount]
    steps: dict[tuple[str, ...], Histogram]
    oldest_busy_run: datetime | None
    executors_alive: int
    query_seconds: float = 0.0


def read_snapshot(db: Database, now: datetime) -> Snapshot:
    started = time.perf_counter()
    with db.read() as conn:
        incidents = q.incident_counts(conn)
        durations = {
            stamp: collect(q.incident_durations(conn, stamp, RESPONSE_BUCKETS), RESPONSE_BUCKETS)
            for stamp in q.INCIDENT_STAMPS
        }
        runs = q.run_counts(conn)
        steps = collect(q.step_durations(conn, STEP_BUCKETS), STEP_BUCKETS)
        oldest = q.oldest_busy_run(conn)
        alive = q.executors_seen_since(conn, now - timedelta(seconds=EXECUTOR_ALIVE_SECONDS))
    return Snapshot(
        taken_at=now,
        incidents=incidents,
        durations=durations,
        runs=runs,
        steps=steps,
        oldest_busy_run=oldest,
        executors_alive=alive,
        query_seconds=time.perf_counter() - started,
    )


def _histogram(
    name: str,
    doc: str,
    labels: Sequence[str],
    data: dict[tuple[str, ...], Histogram],
    bounds: Sequence[float],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=list(labels))
    for values, h in sorted(data.items()):
        family.add_metric(list(values), h.cumulative(bounds), h.total)
    return family


def families(snap: Snapshot, now: datetime) -> Iterator[Metric]:
    """The metric families of one snapshot (pure)."""
    opened = CounterMetricFamily(
        "defib_incidents_opened",
        "Incidents ever opened, by type and current severity (database; same on every replica).",
        labels=["type", "severity"],
    )
    open_now = GaugeMetricFamily(
        "defib_incidents_open",
        "Incidents detected, acknowledged or mitigated now (database).",
        labels=["type", "severity"],
    )
    by_status = GaugeMetricFamily(
        "defib_incidents",
        "Incidents by lifecycle status (database).",
        labels=["type", "severity", "status"],
    )
    reopened = CounterMetricFamily(
        "defib_incidents_reopened",
        "Reopenings of incidents (database).",
        labels=["type", "severity"],
    )
    totals: dict[tuple[str, str], list[int]] = {}
    for c in snap.incidents:
        t = totals.setdefault((c.type, c.severity), [0, 0, 0])
        t[0] += c.count
        t[1] += c.count if c.status in OPEN else 0
        t[2] += c.reopens
        by_status.add_metric([c.type, c.severity, c.status], c.count)
    for (typ, sev), (n, n_open, n_reopen) in sorted(totals.items()):
        opened.add_metric([typ, sev], n)
        open_now.add_metric([typ, sev], n_open)
        reopened.add_metric([typ, sev], n_reopen)
    yield from (opened, open_now, by_status, reopened)
    for stamp, past in _STAMP_DOC.items():
        yield _histogram(
            f"defib_incident_time_to_{stamp}_seconds",
            f"Seconds from detection (or the last reopening) until {past}, per incident "
            "(database; an incident counts once, in its current type and severity).",
            ["type", "severity"],
            snap.durations[stamp],
            RESPONSE_BUCKETS,
        )
    runs_total = CounterMetricFamily(
        "defib_playbook_runs",
        "Playbook runs that ended, by playbook and final status (database; dry runs excluded).",
        labels=["playbook", "status"],
    )
    runs_active = GaugeMetricFamily(
        "defib_playbook_runs_active",
        "Playbook runs pending, running or waiting for an approval (database).",
        labels=["playbook", "status"],
    )
    for r in sorted(snap.runs, key=lambda r: (r.playbook, r.status)):
        (runs_active if r.status in ACTIVE_RUNS else runs_total).add_metric(
            [r.playbook, r.status], r.count
        )
    yield from (runs_total, runs_active)
    yield _histogram(
        "defib_playbook_step_duration_seconds",
        "Duration of finished playbook steps, first attempt to end (database).",
        ["action", "status"],
        snap.steps,
        STEP_BUCKETS,
    )
    oldest = GaugeMetricFamily(
        "defib_playbook_oldest_busy_run_age_seconds",
        "Age of the oldest run pending or running, not waiting for a person; 0 when none "
        "(database). A growing value means runs are stuck.",
    )
    age = (now - snap.oldest_busy_run).total_seconds() if snap.oldest_busy_run else 0.0
    oldest.add_metric([], max(0.0, age))
    yield oldest
    alive = GaugeMetricFamily(
        "defib_engine_executors_alive",
        f"Playbook executors (workers) with a heartbeat in the last {EXECUTOR_ALIVE_SECONDS:g} s "
        "(database).",
    )
    alive.add_metric([], snap.executors_alive)
    yield alive


# eq=False: the registry keys collectors by identity.
@dataclass(eq=False)
class DatabaseCollector(Collector):
    """Reads a snapshot at most once per `cache_seconds`, however often it is scraped."""

    db: Database
    cache_seconds: float = 5.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _snapshot: Snapshot | None = None
    _read_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> Snapshot:
        with self._lock:
            fresh = self._snapshot is not None and (
                time.monotonic() - self._read_at < self.cache_seconds
            )
            if not fresh:
                self._snapshot = read_snapshot(self.db, self.clock())
                self._read_at = time.monotonic()
            assert self._snapshot is not None
            return self._snapshot

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "defib_database_up", "1 when this process could read the database-derived series."
        )
        try:
            snap = self.snapshot()
        except Exception:
            # A scrape must still answer (process series, and this 0) when the database is down.
            log.exception("metrics: reading the database failed")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        seconds = GaugeMetricFamily(
            "defib_metrics_database_query_seconds",
            "How long the last read of the database-derived series took (this process).",
        )
        seconds.add_metric([], snap.query_seconds)
        yield seconds
        yield from families(snap, self.clock())

    def describe(self) -> list[Metric]:
        # Registering must not query the database.
        return []
