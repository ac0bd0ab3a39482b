"""The response report (pure): counts, MTTA/MTTM/MTTR percentiles, top systems, reopen rate
and who mitigated, computed from one row per incident."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from defib.postmortem.document import is_automated

_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_SINCE_SECONDS = 100 * 366 * 86400


def parse_since(text: str) -> timedelta:
    """`30d`, `12h`, `2w`, `90m`, `45s` -> a timedelta; raises ValueError."""
    m = _SINCE.match(text)
    if m is None:
        raise ValueError(f"since: {text!r} is not like 30d, 12h, 2w, 90m")
    seconds = int(m.group(1)) * _UNIT[m.group(2)]
    # Past this, `now - since` leaves the calendar (a 500 for `99999999999d`, issue 25).
    if seconds > MAX_SINCE_SECONDS:
        raise ValueError(f"since: {text!r} reaches back more than 100 years")
    return timedelta(seconds=seconds)


class Row(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def systems(self) -> list[str]: ...
    @property
    def detected_at(self) -> datetime: ...
    @property
    def reopened_at(self) -> datetime | None: ...
    @property
    def acknowledged_at(self) -> datetime | None: ...
    @property
    def mitigated_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def reopen_count(self) -> int: ...
    @property
    def mitigated_by(self) -> str | None: ...


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 3)


def _times(rows: Iterable[Row], attr: str) -> list[float]:
    out = []
    for r in rows:
        end = getattr(r, attr)
        if end is not None:
            out.append((end - (r.reopened_at or r.detected_at)).total_seconds())
    return sorted(out)


def _stats(rows: Sequence[Row]) -> dict[str, Any]:
    out: dict[str, Any] = {"incidents": len(rows)}
    for name, attr in (
        ("mtta", "acknowledged_at"),
        ("mttm", "mitigated_at"),
        ("mttr", "resolved_at"),
    ):
        values = _times(rows, attr)
        out[name] = {
            "count": len(values),
            "mean": round(statistics.fmean(values), 3) if values else None,
            "p50": percentile(values, 0.5),
            "p90": percentile(values, 0.9),
        }
    return out


def build_report(
    rows: Sequence[Row], *, since: datetime | None, now: datetime, top: int = 10
) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r.type, r.severity)].append(r)
    systems: Counter[str] = Counter(s for r in rows for s in r.systems)
    mitigated = [r for r in rows if r.mitigated_by is not None]
    by_playbook = sum(1 for r in mitigated if is_automated(r.mitigated_by or ""))
    reopened = sum(1 for r in rows if r.reopen_count > 0)
    return {
        "since": since.isoformat() if since else None,
        "until": now.isoformat(),
        "overall": _stats(rows),
        "by_type_severity": [
            {"type": t, "severity": s, **_stats(g)} for (t, s), g in sorted(groups.items())
        ],
        "top_systems": [{"system": s, "incidents": n} for s, n in systems.most_common(top)],
        "reopen_rate": round(reopened / len(rows), 4) if rows else None,
        "reopened": reopened,
        "mitigated": {
            "total": len(mitigated),
            "by_playbook": by_playbook,
            "by_person": len(mitigated) - by_playbook,
            "playbook_share": round(by_playbook / len(mitigated), 4) if mitigated else None,
        },
    }
