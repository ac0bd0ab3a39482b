"""Storm protection: how many incidents and playbook runs alerts may start (pure).

One request of 8,000 Prometheus alerts, each for its own service, opened 8,000 incidents
and planned 8,000 playbook runs (issue 11). Alertmanager groups such floods; defib does
the same at the point where an alert would open (or reopen) an incident:

- per request, at most `max_alerts_per_request` firing alerts are correlated one by one
  and at most `max_new_incidents_per_request` new incidents are opened;
- per sender (the token's name) and minute, at most `max_new_incidents_per_source_per_minute`;
- past a limit, an alert that would open an incident folds into one open **storm incident**
  of that sender instead (counts and the systems involved on its labels and timeline, no
  playbook run, no affected systems for a playbook to act on); alerts for incidents already
  open still merge into them as usual;
- a playbook run is planned for at most `playbook_runs_per_system_per_minute` alert-raised
  incidents of one system a minute; past that the incident is opened without a run and
  says so on its timeline.

The counters live in the process under a lock (the group committer and embedded callers
may ingest from several threads), or, given a `SharedBudget` (the database's, on
PostgreSQL), in one place for every replica: a storm sent to several replicas then
respects one limit (issue 25). The per-request limits stay per request.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from defib.config import StormSettings
from defib.model import Severity

WINDOW_SECONDS = 60.0
MAX_LISTED_SYSTEMS = 100


def storm_fingerprint(source: str) -> str:
    """One open storm incident per sender."""
    return "storm:" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:40]


@dataclass
class _Window:
    start: float
    used: int = 0


class SharedBudget(Protocol):
    def take(self, scope: str, keys: Sequence[str], limit: int) -> bool:
        """Count one use on every key this minute if all are under `limit`."""
        ...


@dataclass
class StormGuard:
    """Budgets for new incidents and playbook runs: in the process, or `shared`."""

    limits: StormSettings
    shared: SharedBudget | None = None
    _sources: dict[str, _Window] = field(default_factory=dict)
    _systems: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def _current(table: dict[str, _Window], key: str, now: float) -> _Window:
        window = table.get(key)
        if window is None or now - window.start >= WINDOW_SECONDS:
            window = table[key] = _Window(now)
            if len(table) > 10_000:  # forget idle keys rather than grow without end
                for k in [k for k, w in table.items() if now - w.start >= WINDOW_SECONDS]:
                    del table[k]
        return window

    def may_open(self, source: str, opened_in_request: int, now: float) -> bool:
        """May this request of `source` open one more incident? (Counts it if so.)"""
        if opened_in_request >= self.limits.max_new_incidents_per_request:
            return False
        if self.shared is not None:
            return self.shared.take(
                "source", [source], self.limits.max_new_incidents_per_source_per_minute
            )
        with self._lock:
            window = self._current(self._sources, source, now)
            if window.used >= self.limits.max_new_incidents_per_source_per_minute:
                return False
            window.used += 1
            return True

    def may_run(self, systems: Sequence[str], now: float) -> bool:
        """May a playbook run start for an alert-raised incident of `systems`? (Counts it.)"""
        keys = list(systems) or [""]
        if self.shared is not None:
            return self.shared.take("system", keys, self.limits.playbook_runs_per_system_per_minute)
        with self._lock:
            windows = [self._current(self._systems, k, now) for k in keys]
            if any(w.used >= self.limits.playbook_runs_per_system_per_minute for w in windows):
                return False
            for w in windows:
                w.used += 1
            return True


@dataclass(frozen=True, slots=True)
class StormSummary:
    """What one storm fold adds to the storm incident."""

    alerts: int
    systems: tuple[str, ...]
    types: Mapping[str, int]
    severity: Severity


def summarise(
    systems: Iterable[Sequence[str]], types: Iterable[str], severities: Iterable[Severity]
) -> StormSummary:
    names: dict[str, None] = {}
    counts: dict[str, int] = {}
    total = 0
    for group in systems:
        total += 1
        for s in group:
            names[s] = None
    for t in types:
        counts[t] = counts.get(t, 0) + 1
    return StormSummary(total, tuple(names), counts, max(severities, default=Severity.SEV4))


def storm_labels(previous: Mapping[str, str], source: str, add: StormSummary) -> dict[str, str]:
    """The storm incident's labels after folding `add` into it."""
    alerts = int(previous.get("storm_alerts", "0") or 0) + add.alerts
    listed = [s for s in previous.get("storm_systems", "").split(",") if s]
    known = set(listed)
    seen = int(previous.get("storm_system_count", "0") or 0)
    for s in add.systems:
        if s not in known:
            seen += 1
            known.add(s)
            if len(listed) < MAX_LISTED_SYSTEMS:
                listed.append(s)
    types = {
        k: int(v)
        for k, _, v in (p.partition("=") for p in previous.get("storm_types", "").split(","))
        if k and v.isdigit()
    }
    for t, n in add.types.items():
        types[t] = types.get(t, 0) + n
    return {
        **previous,
        "storm": "true",
        "storm_source": source,
        "storm_alerts": str(alerts),
        # Systems beyond the listed ones are counted only when first listed: an estimate
        # once the list is full (the alerts themselves are all stored).
        "storm_system_count": str(seen),
        "storm_systems": ",".join(listed),
        "storm_types": ",".join(f"{k}={v}" for k, v in sorted(types.items())),
    }


def storm_title(source: str, labels: Mapping[str, str]) -> str:
    return (
        f"Alert storm from {source}: {labels.get('storm_alerts', '0')} alerts across "
        f"{labels.get('storm_system_count', '0')} systems folded into this incident"
    )
