"""Multi-window, multi-burn-rate SLO alerting (Google SRE workbook, chapter 5).

Page when the 1h and 5m burn rates are both >= 14.4; ticket when the 6h and 30m burn rates
are both >= 6. Events are counted into fixed-width time buckets, so memory is bounded by
the longest window divided by the bucket width, whatever the event rate.

`UsageEvaluator` watches what a system's calls consume rather than whether they succeed:
token volume (a ceiling, or a spike against the hour before), output tokens per call,
cost, and the share of answers cut short (`length`) or withheld (`content_filter`). It
keeps the same fixed-width buckets over a sliding window and answers in the same alert
shape, so the post-processor raises its breaches exactly as it raises burn rates.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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


# -- token usage, cost and finish reasons -------------------------------------------------

USAGE_BUCKET_SECONDS = 10
# Bucket fields: calls, calls reporting usage, input tokens, output tokens, cost, calls
# reporting a finish reason, calls with an abnormal one.
_CALLS, _METERED, _INPUT, _OUTPUT, _COST, _FINISHED, _ABNORMAL = range(7)


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """What counts as a breach; a limit left None is not checked."""

    window_s: int = 300
    min_calls: int = 10
    max_tokens_per_minute: float | None = None
    spike_factor: float | None = None
    baseline_s: int = 3600
    max_output_tokens_per_call: float | None = None
    max_cost_per_minute: float | None = None
    # model -> (price per million input tokens, per million output tokens)
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    abnormal_finish_reasons: frozenset[str] = frozenset({"length", "content_filter"})
    max_abnormal_finish_share: float | None = None


@dataclass(frozen=True, slots=True)
class _Check:
    name: str
    family: str  # "tokens" or "finish": one alert per family at a time
    what: str  # the measure, in words
    unit: str  # after each figure in the title


_CHECKS = {
    c.name: c
    for c in (
        _Check("tokens_per_minute", "tokens", "tokens per minute", ""),
        _Check("token_spike", "tokens", "tokens per minute against the baseline", "x"),
        _Check("output_tokens_per_call", "tokens", "output tokens per call", ""),
        _Check("cost_per_minute", "tokens", "cost per minute", ""),
        _Check("abnormal_finish", "finish", "share of answers that ended abnormally", ""),
    )
}


def _num(v: float) -> str:
    """A figure for people: 120,000 rather than 1.2e+05; 0.053 rather than 0.05312."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


class UsageEvaluator:
    """Token volume, cost and abnormal finish reasons of one system over a sliding window.

    Each check compares a figure over the trailing `window_s` with its limit:

    - `tokens_per_minute`: input + output tokens per minute against a ceiling;
    - `token_spike`: that rate against `spike_factor` times the rate over the
      `baseline_s` before the window (both need `min_calls` metered calls, so a quiet
      hour does not make the first busy minute a spike);
    - `output_tokens_per_call`: mean output tokens of the metered calls (runaway answers);
    - `cost_per_minute`: tokens priced per model (unpriced models cost nothing here);
    - `abnormal_finish`: share of calls reporting a finish reason whose reason is abnormal.

    Calls that report no usage (or no finish reason) are left out of those figures rather
    than counted as zero. `evaluate` answers like `SloEvaluator.evaluate`: an alert for each
    check that fires, and one more when a check stops firing.
    """

    def __init__(
        self,
        system: str,
        limits: UsageLimits,
        *,
        suffix: str = "",
        bucket_seconds: int = USAGE_BUCKET_SECONDS,
    ) -> None:
        if limits.window_s < bucket_seconds or limits.baseline_s < bucket_seconds:
            raise ValueError(f"windows must be at least {bucket_seconds} s")
        self.system = system
        self.limits = limits
        self.bucket_seconds = bucket_seconds
        self.slo_names = {
            "tokens": f"{system}-tokens{suffix}",
            "finish": f"{system}-finish{suffix}",
        }
        self._span = limits.window_s // bucket_seconds
        self._baseline_span = limits.baseline_s // bucket_seconds
        # Bucket index -> sums; a dict, since batched sources report calls late and out of
        # order. Pruned to the horizon on every evaluation (bounded memory).
        self._buckets: dict[int, list[float]] = {}
        self._firing: set[str] = set()
        self._lock = threading.Lock()

    def is_abnormal(self, finish_reasons: Iterable[str]) -> bool:
        return any(r in self.limits.abnormal_finish_reasons for r in finish_reasons)

    def record(
        self,
        ts: float | datetime,
        input_tokens: int | None,
        output_tokens: int | None,
        finish_reasons: tuple[str, ...] = (),
        model: str | None = None,
    ) -> None:
        """Count one call (its token usage and finish reasons as reported, if at all)."""
        idx = int(_ts(ts) // self.bucket_seconds)
        metered = input_tokens is not None or output_tokens is not None
        tokens_in = max(0, input_tokens or 0)
        tokens_out = max(0, output_tokens or 0)
        cost = 0.0
        if metered and self.limits.prices and model is not None:
            price = self.limits.prices.get(model)
            if price is not None:
                cost = (tokens_in * price[0] + tokens_out * price[1]) / 1e6
        with self._lock:
            b = self._buckets.get(idx)
            if b is None:
                b = self._buckets[idx] = [0.0] * 7
            b[_CALLS] += 1
            if metered:
                b[_METERED] += 1
                b[_INPUT] += tokens_in
                b[_OUTPUT] += tokens_out
                b[_COST] += cost
            if finish_reasons:
                b[_FINISHED] += 1
                b[_ABNORMAL] += self.is_abnormal(finish_reasons)

    def _sum(self, start: int, end: int) -> list[float]:
        total = [0.0] * 7
        for idx in range(start, end + 1):
            b = self._buckets.get(idx)
            if b is not None:
                for i, v in enumerate(b):
                    total[i] += v
        return total

    def figures(self, now: float | datetime) -> dict[str, float]:
        """Each enabled check's current figure (a check without enough calls is absent)."""
        lim = self.limits
        end = int(_ts(now) // self.bucket_seconds)
        start = end - self._span + 1
        with self._lock:
            # Prune: the baseline's start is the oldest bucket needed; far-future buckets
            # (a sender's clock gone wrong) are dropped too.
            oldest = start - self._baseline_span
            for idx in [i for i in self._buckets if i < oldest or i > end + self._span]:
                del self._buckets[idx]
            win = self._sum(start, end)
            base = self._sum(oldest, start - 1) if lim.spike_factor is not None else None
        minutes = lim.window_s / 60
        tokens = win[_INPUT] + win[_OUTPUT]
        out: dict[str, float] = {}
        if lim.max_tokens_per_minute is not None:
            out["tokens_per_minute"] = tokens / minutes
        if lim.spike_factor is not None and base is not None:
            base_rate = (base[_INPUT] + base[_OUTPUT]) / (lim.baseline_s / 60)
            if base[_METERED] >= lim.min_calls and win[_METERED] >= lim.min_calls and base_rate:
                out["token_spike"] = (tokens / minutes) / base_rate
        if lim.max_output_tokens_per_call is not None and win[_METERED] >= lim.min_calls:
            out["output_tokens_per_call"] = win[_OUTPUT] / win[_METERED]
        if lim.max_cost_per_minute is not None:
            out["cost_per_minute"] = win[_COST] / minutes
        if lim.max_abnormal_finish_share is not None and win[_FINISHED] >= lim.min_calls:
            out["abnormal_finish"] = win[_ABNORMAL] / win[_FINISHED]
        out["calls"] = win[_CALLS]
        return out

    def _limit(self, check: str) -> float | None:
        lim = self.limits
        return {
            "tokens_per_minute": lim.max_tokens_per_minute,
            "token_spike": lim.spike_factor,
            "output_tokens_per_call": lim.max_output_tokens_per_call,
            "cost_per_minute": lim.max_cost_per_minute,
            "abnormal_finish": lim.max_abnormal_finish_share,
        }[check]

    def evaluate(self, now: float | datetime) -> list[dict[str, Any]]:
        """Alerts for checks that fire, and for checks that just stopped firing."""
        figures = self.figures(now)
        alerts = []
        for name, check in _CHECKS.items():
            limit = self._limit(name)
            if limit is None:
                continue
            value = figures.get(name)
            firing = value is not None and value > limit
            with self._lock:
                was = name in self._firing
                if firing:
                    self._firing.add(name)
                else:
                    self._firing.discard(name)
            if firing or was:
                alerts.append(self._alert(check, value or 0.0, limit, firing, figures["calls"]))
        return alerts

    def _alert(
        self, check: _Check, value: float, limit: float, firing: bool, calls: float
    ) -> dict[str, Any]:
        slo = self.slo_names[check.family]
        window = f"{self.limits.window_s // 60}m"
        if check.name == "abnormal_finish":
            shown = f"{value:.0%} (limit {limit:.0%})"
            reasons = ", ".join(sorted(self.limits.abnormal_finish_reasons))
            why = (
                f"Over the last {window}, {value:.0%} of the {calls:g} calls ended with an "
                f"abnormal finish reason ({reasons}): answers cut short or withheld."
            )
        else:
            unit = check.unit  # "x" for the spike: a multiple of the baseline
            shown = f"{_num(value)}{unit} (limit {_num(limit)}{unit})"
            why = f"Over the last {window} the {check.what} was {_num(value)}, above {_num(limit)}"
            if check.name == "token_spike":
                why += f" (baseline: the {self.limits.baseline_s // 60}m before)"
            why += f"; {calls:g} calls in the window."
        return {
            "source": "defib-slo",
            "title": f"{self.system}: {check.what} {shown}",
            "description": why,
            "signal": "token_usage" if check.family == "tokens" else "finish_reasons",
            "systems": [self.system],
            "labels": {
                "slo": slo,
                "check": check.name,
                "windows": window,
                "calls": f"{calls:g}",
                # No incident type is about spend: cost and runaway output are the
                # system performing badly, and answers cut short are a degraded service.
                "ai_incident_type": "performance",
            },
            "value": round(value, 4),
            "threshold": limit,
            "severity": "warning",
            "status": "firing" if firing else "resolved",
            "dedup_key": f"defib-slo:{self.system}:{slo}:{check.name}",
        }
