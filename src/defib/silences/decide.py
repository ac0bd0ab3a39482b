"""Whether an alert is silenced or inhibited, given the silences and open incidents. Pure.

An alert or incident is seen as one label set per affected system: its own labels plus
defib's derived `type`, `severity` (SEV1..SEV4) and `system`, which win over labels of the
same name. It counts as silenced (or inhibited) only when every one of its systems is, so a
silence for one system never hides an alert about another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from defib.silences.matchers import Matcher, matches_all
from defib.silences.model import Silence

Labels = Mapping[str, str]


def label_sets(
    labels: Mapping[str, object], type_: str | None, severity: str | None, systems: Sequence[str]
) -> list[dict[str, str]]:
    base = {str(k): str(v) for k, v in labels.items()}
    if type_ is not None:
        base["type"] = type_
    if severity is not None:
        base["severity"] = severity
    return [{**base, "system": s} for s in (systems or ("",))]


def silenced_by(silences: Iterable[Silence], sets: Sequence[Labels], now: datetime) -> list[str]:
    """The ids of the silences covering every label set, or [] if any set is not covered."""
    active = [s for s in silences if s.state(now) == "active"]
    ids: list[str] = []
    for labels in sets:
        hit = next((s for s in active if matches_all(s.matchers, labels)), None)
        if hit is None:
            return []
        if hit.id not in ids:
            ids.append(hit.id)
    return ids


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """Alertmanager's inhibit_rules entry: a matching source mutes matching targets."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


# An open availability incident of a system mutes that system's performance alerts: when
# the service is down, its latency and error-rate alerts only repeat the outage.
DEFAULT_INHIBIT_RULES = (
    InhibitRule(
        source=(Matcher("type", "availability"),),
        target=(Matcher("type", "performance"),),
        equal=("system",),
    ),
)


@dataclass(frozen=True, slots=True)
class Source:
    """An open incident that may inhibit: its seq and label sets."""

    seq: int
    sets: Sequence[Labels]


def inhibited_by(
    rules: Sequence[InhibitRule], sources: Iterable[Source], sets: Sequence[Labels]
) -> int | None:
    """The seq of an open incident that inhibits every label set, or None."""
    sources = list(sources)
    found: int | None = None
    for target in sets:
        hit = _inhibitor(rules, sources, target)
        if hit is None:
            return None
        found = hit if found is None else found
    return found


def _inhibitor(rules: Sequence[InhibitRule], sources: list[Source], target: Labels) -> int | None:
    for rule in rules:
        if not matches_all(rule.target, target):
            continue
        for source in sources:
            for labels in source.sets:
                if matches_all(rule.source, labels) and all(
                    labels.get(e, "") == target.get(e, "") for e in rule.equal
                ):
                    return source.seq
    return None


def relevant_rules(rules: Sequence[InhibitRule], sets: Sequence[Labels]) -> list[InhibitRule]:
    """Rules whose target matches some label set: the only ones worth reading sources for."""
    return [r for r in rules if any(matches_all(r.target, labels) for labels in sets)]


def source_types(rules: Sequence[InhibitRule]) -> frozenset[str] | None:
    """The incident types that can be sources, when every rule pins one (`type="..."`);
    None when some rule may be sourced by any type."""
    types: set[str] = set()
    for rule in rules:
        pinned = [
            m.value for m in rule.source if m.name == "type" and m.is_equal and not m.is_regex
        ]
        if not pinned:
            return None
        types.add(pinned[0])
    return frozenset(types)
