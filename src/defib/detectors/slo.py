"""Multi-window, multi-burn-rate SLO alerting (Google SRE workbook, chapter 5).

Page when the 1h and 5m burn rates are both >= 14.4; ticket when the 6h and 30m burn rates
are both >= 6. Events are counted into fixed-width time buckets, so memory is bounded by
the longest window divided by the bucket width, whatever the event rate.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class BurnRule:
    """Fire when both windows burn at least `factor` times the error budget rate."""

    name: str
    long_s: int
    short_s: int
    factor: float
    severity: str


DEFAULT_RULES = (
    BurnRule("page", 3600, 300, 14.4, "critical"),
    BurnRule("ticket", 6 * 3600, 1800, 6.0, "warning"),
)


def _ts(t: float | datetime) -> float:
    return t.timestamp() if isinstance(t, datetime) else float(t)


class SloEvaluator:
    """Streaming burn-rate evaluator for one SLO of one system.

    `kind="error_rate"`: events are `(timestamp, ok: bool)`.
    `kind="latency"`: events are `(timestamp, latency_ms)`; slower than
    `latency_threshold_ms` counts as bad.
    """

    def __init__(
        self,
        system: str,
        *,
        target: float = 0.999,
        kind: str = "error_rate",
        latency_threshold_ms: float | None = None,
        slo_name: str | None = None,
        bucket_seconds: int = 10,
        rules: tuple[BurnRule, ...] = DEFAULT_RULES,
    ) -> None:
        if not 0 < target < 1:
            raise ValueError("target must be between 0 and 1, e.g. 0.999")
        if kind not in ("error_rate", "latency"):
            raise ValueError("kind must be 'error_rate' or 'latency'")
        if kind == "latency" and latency_threshold_ms is None:
            raise ValueError("latency SLOs need latency_threshold_ms")
        self.system = system
        self.target = target
        self.kind = kind
        self.latency_threshold_ms = latency_threshold_ms
        self.slo_name = (
            slo_name or f"{system}-{'availability' if kind == 'error_rate' else 'latency'}"
        )
        self.bucket_seconds = bucket_seconds
        self.rules = rules
        self._horizon = max(max(r.long_s, r.short_s) for r in rules)
        self._buckets: deque[list[int]] = deque()  # [bucket_index, total, bad], ascending
        self._firing: set[str] = set()
        self._lock = threading.Lock()

    def record(self, event: tuple[float | datetime, bool | float]) -> None:
        """Count one event."""
        ts, value = event
        if self.kind == "error_rate":
            bad = not bool(value)
        else:
            assert self.latency_threshold_ms is not None
            bad = float(value) > self.latency_threshold_ms
        idx = int(_ts(ts) // self.bucket_seconds)
        with self._lock:
            if self._buckets and self._buckets[-1][0] == idx:
                b = self._buckets[-1]
            elif not self._buckets or self._buckets[-1][0] < idx:
                b = [idx, 0, 0]
                self._buckets.append(b)
            else:  # late event: find its bucket (rare, linear scan from the right)
                b = next((x for x in reversed(self._buckets) if x[0] == idx), [idx, 0, 0])
                if b[1] == 0 and b[2] == 0 and b not in self._buckets:
                    self._buckets.append(b)
                    self._buckets = deque(sorted(self._buckets, key=lambda x: x[0]))
            b[1] += 1
            b[2] += bad
            self._prune(idx)

    def _prune(self, newest: int) -> None:
        oldest = newest - self._horizon // self.bucket_seconds - 1
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()

    def burn_rate(self, window_s: int, now: float | datetime) -> float:
        """Error rate over the trailing window divided by the error budget (1 - target)."""
        end = int(_ts(now) // self.bucket_seconds)
        start = end - window_s // self.bucket_seconds + 1
        total = bad = 0
        with self._lock:
            for idx, t, b in reversed(self._buckets):
                if idx < start:
                    break
                if idx <= end:
                    total += t
                    bad += b
        if total == 0:
            return 0.0
        return (bad / total) / (1 - self.target)

    def evaluate(self, now: float | datetime) -> list[dict[str, Any]]:
        """Alerts for rules that start firing, keep firing, or just resolved."""
        alerts = []
        for rule in self.rules:
            long_rate = self.burn_rate(rule.long_s, now)
            short_rate = self.burn_rate(rule.short_s, now)
            firing = long_rate >= rule.factor and short_rate >= rule.factor
            with self._lock:
                was = rule.name in self._firing
                if firing:
                    self._firing.add(rule.name)
                else:
                    self._firing.discard(rule.name)
            if firing or was:
                alerts.append(self._alert(rule, long_rate, short_rate, firing))
        return alerts

    def _alert(
        self, rule: BurnRule, long_rate: float, short_rate: float, firing: bool
    ) -> dict[str, Any]:
        incident = "availability" if self.kind == "error_rate" else "performance"
        what = (
            "error rate"
            if self.kind == "error_rate"
            else (f"share of requests slower than {self.latency_threshold_ms:g} ms")
        )
        windows = f"{rule.long_s // 60}m/{rule.short_s // 60}m"
        return {
            "source": "defib-slo",
            "title": f"{self.system}: SLO {self.slo_name} burning {long_rate:.1f}x budget",
            "description": (
                f"The {what} is consuming the {self.target:.3%} SLO error budget at "
                f"{long_rate:.1f}x over {rule.long_s // 60}m and {short_rate:.1f}x over "
                f"{rule.short_s // 60}m (threshold {rule.factor:g}x on both)."
            ),
            "signal": "slo_burn_rate",
            "systems": [self.system],
            "labels": {
                "slo": self.slo_name,
                "slo_target": str(self.target),
                "rule": rule.name,
                "windows": windows,
                "short_window_burn_rate": f"{short_rate:.2f}",
                "ai_incident_type": incident,
            },
            "value": round(long_rate, 4),
            "threshold": rule.factor,
            "severity": rule.severity,
            "status": "firing" if firing else "resolved",
            "dedup_key": f"defib-slo:{self.system}:{self.slo_name}:{rule.name}",
        }
