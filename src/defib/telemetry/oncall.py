"""On-call series, derived from the database (the same on every replica; take `max`).

`defib_oncall_pages_sent_total{policy,level,channel}`, `defib_oncall_escalations_total
{policy,level}`, and `defib_oncall_time_to_acknowledge_seconds{policy,level}`: from the
first page of a policy to the incident's acknowledgement, filed under the highest level
that had been paged by then (how far up the chain it had to go).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from defib.events import TimelineKind
from defib.store import oncall as repo
from defib.store.database import Database
from defib.telemetry.buckets import RESPONSE_BUCKETS, Histogram

PageEvent = tuple[int, datetime, str, Mapping[str, object]]


@dataclass
class OncallSeries:
    pages: dict[tuple[str, str, str], int] = field(default_factory=dict)
    escalations: dict[tuple[str, str], int] = field(default_factory=dict)
    to_ack: dict[tuple[str, str], Histogram] = field(default_factory=dict)


def _bucket(seconds: float, bounds: Sequence[float]) -> int:
    for i, bound in enumerate(bounds):
        if seconds <= bound:
            return i
    return len(bounds)


def series(
    events: Sequence[PageEvent],
    acked: Mapping[int, datetime],
    bounds: Sequence[float] = RESPONSE_BUCKETS,
) -> OncallSeries:
    """Pure: fold page events and acknowledgement times into the three series."""
    out = OncallSeries()
    # (incident, policy) -> (first page, [(at, level)])
    paged: dict[tuple[int, str], list[tuple[datetime, int]]] = {}
    for seq, at, kind, data in events:
        policy, level = str(data.get("policy", "")), data.get("level")
        if not isinstance(level, int):
            continue
        if kind == TimelineKind.PAGE_SENT:
            key3 = (policy, str(level), str(data.get("channel", "")))
            out.pages[key3] = out.pages.get(key3, 0) + 1
            paged.setdefault((seq, policy), []).append((at, level))
        elif kind == TimelineKind.ESCALATED:
            key2 = (policy, str(level))
            out.escalations[key2] = out.escalations.get(key2, 0) + 1
    for (seq, policy), pages in paged.items():
        ack = acked.get(seq)
        before = [(at, level) for at, level in pages if at <= ack] if ack else []
        if ack is None or not before:
            continue
        first = min(at for at, _ in before)
        top = max(level for _, level in before)
        seconds = max(0.0, (ack - first).total_seconds())
        h = out.to_ack.setdefault((policy, str(top)), Histogram(counts=[0] * (len(bounds) + 1)))
        h.counts[_bucket(seconds, bounds)] += 1
        h.count += 1
        h.total += seconds
    return out


@dataclass(eq=False)  # the registry keys collectors by identity
class OncallCollector(Collector):
    """The on-call series, read from the database at most every `cache_seconds`."""

    db: Database
    cache_seconds: float = 5.0
    _series: OncallSeries | None = None
    _read_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self) -> OncallSeries:
        with self._lock:
            if self._series is None or time.monotonic() - self._read_at >= self.cache_seconds:
                with self.db.read() as conn:
                    events = repo.page_events(conn)
                    acked = repo.acknowledged_at(conn, sorted({e[0] for e in events}))
                self._series = series(events, acked)
                self._read_at = time.monotonic()
            return self._series

    def collect(self) -> Iterator[Metric]:
        try:
            s = self.read()
        except Exception:
            # defib_database_up (the database collector) already says the read failed.
            return
        pages = CounterMetricFamily(
            "defib_oncall_pages_sent",
            "Pages delivered to people on call, by policy, level and channel.",
            labels=["policy", "level", "channel"],
        )
        for labels, n in sorted(s.pages.items()):
            pages.add_metric(list(labels), n)
        yield pages
        escalations = CounterMetricFamily(
            "defib_oncall_escalations",
            "Escalations: a level past the first, or a repeat, reached unacknowledged.",
            labels=["policy", "level"],
        )
        for labels2, n in sorted(s.escalations.items()):
            escalations.add_metric(list(labels2), n)
        yield escalations
        to_ack = HistogramMetricFamily(
            "defib_oncall_time_to_acknowledge_seconds",
            "From a policy's first page to the acknowledgement, by the highest level paged.",
            labels=["policy", "level"],
        )
        for labels2, h in sorted(s.to_ack.items()):
            to_ack.add_metric(list(labels2), h.cumulative(RESPONSE_BUCKETS), h.total)
        yield to_ack

    def describe(self) -> list[Metric]:
        # Registering must not query the database.
        return []
