"""Histogram bucket bounds and the pure step from per-bucket counts to Prometheus buckets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.utils import floatToGoString

# How Prometheus spells bucket bounds (`1.0`, `+Inf`); the client's helper is untyped.
_go_float: Callable[[float], str] = floatToGoString

# Seconds to days: a playbook contains a leak in seconds, a person acknowledges in minutes,
# a resolution can take a week.
RESPONSE_BUCKETS: tuple[float, ...] = (
    1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800,
)  # fmt: skip
STEP_BUCKETS: tuple[float, ...] = (
    0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400,
)  # fmt: skip
# The gateway's own share of a request: the budget is about 2 ms (docs/gateway.md).
GATEWAY_ADDED_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
)  # fmt: skip
GATEWAY_TOTAL_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
)  # fmt: skip


class _Row(Protocol):
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def bucket(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def total(self) -> float: ...


@dataclass(slots=True)
class Histogram:
    """One label set's histogram: per-bucket counts (the last is +Inf) and the sum."""

    counts: list[int]
    total: float = 0.0
    count: int = field(default=0)

    def cumulative(self, bounds: Sequence[float]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for i, bound in enumerate([*bounds, float("inf")]):
            running += self.counts[i]
            out.append((_go_float(bound), float(running)))
        return out

    def quantile(self, q: float, bounds: Sequence[float]) -> float | None:
        """Prometheus' histogram_quantile: linear within the bucket that holds rank q."""
        if self.count == 0:
            return None
        rank = q * self.count
        running = 0
        lower = 0.0
        for i, upper in enumerate(bounds):
            if running + self.counts[i] >= rank and self.counts[i] > 0:
                return lower + (upper - lower) * (rank - running) / self.counts[i]
            running += self.counts[i]
            lower = upper
        return float(bounds[-1]) if bounds else None


def collect(rows: Iterable[_Row], bounds: Sequence[float]) -> dict[tuple[str, ...], Histogram]:
    """Fold (labels, bucket, count, sum) rows into one histogram per label set."""
    out: dict[tuple[str, ...], Histogram] = {}
    for row in rows:
        h = out.setdefault(row.labels, Histogram(counts=[0] * (len(bounds) + 1)))
        h.counts[row.bucket] += row.count
        h.count += row.count
        h.total += row.total
    return out


def merge(histograms: Iterable[Histogram], bounds: Sequence[float]) -> Histogram:
    out = Histogram(counts=[0] * (len(bounds) + 1))
    for h in histograms:
        out.counts = [a + b for a, b in zip(out.counts, h.counts, strict=True)]
        out.count += h.count
        out.total += h.total
    return out
