"""Group fairness metrics over aggregated outcomes (no per-row data needed).

Each group is a `GroupOutcome` of counts. Definitions follow fairlearn: demographic parity
compares selection rates, equalized odds takes the larger of the TPR and FPR gaps. Refusal
rates (an assistant declining to answer) are compared the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    """Counts for one group: `positives` of `n` got the favourable outcome."""

    n: int
    positives: int = 0
    tp: int | None = None
    fp: int | None = None
    tn: int | None = None
    fn: int | None = None
    refusals: int = 0


@dataclass(frozen=True, slots=True)
class BiasThresholds:
    """Limits beyond which `evaluate_bias` reports a violation."""

    demographic_parity_difference: float = 0.1
    demographic_parity_ratio: float = 0.8
    equalized_odds_difference: float = 0.1
    refusal_rate_difference: float = 0.05
    refusal_rate_ratio: float = 0.8


@dataclass(frozen=True, slots=True)
class BiasViolation:
    """A metric beyond its threshold, with the groups at both extremes."""

    metric: str
    value: float
    threshold: float
    worst_group: str
    best_group: str


Groups = Mapping[str, GroupOutcome]


def _rates(groups: Groups, num: str) -> dict[str, float]:
    if not groups:
        raise ValueError("at least one group is required")
    out = {}
    for name, g in groups.items():
        if g.n <= 0:
            raise ValueError(f"group {name!r} has n={g.n}")
        out[name] = getattr(g, num) / g.n
    return out


def _difference(rates: Mapping[str, float]) -> float:
    return max(rates.values()) - min(rates.values())


def _ratio(rates: Mapping[str, float]) -> float:
    hi = max(rates.values())
    return 1.0 if hi == 0 else min(rates.values()) / hi


def selection_rates(groups: Groups) -> dict[str, float]:
    """positives / n per group."""
    return _rates(groups, "positives")


def demographic_parity_difference(groups: Groups) -> float:
    """Largest minus smallest selection rate."""
    return _difference(selection_rates(groups))


def demographic_parity_ratio(groups: Groups) -> float:
    """Smallest over largest selection rate (1.0 when nobody is selected)."""
    return _ratio(selection_rates(groups))


def _confusion(g: GroupOutcome, name: str) -> tuple[int, int, int, int]:
    if g.tp is None or g.fp is None or g.tn is None or g.fn is None:
        raise ValueError(f"group {name!r} lacks confusion counts (tp, fp, tn, fn)")
    return g.tp, g.fp, g.tn, g.fn


def equalized_odds_difference(groups: Groups) -> float:
    """max(TPR gap, FPR gap) across groups; a group without positives/negatives is skipped
    for that rate."""
    tpr: dict[str, float] = {}
    fpr: dict[str, float] = {}
    for name, g in groups.items():
        tp, fp, tn, fn = _confusion(g, name)
        if tp + fn:
            tpr[name] = tp / (tp + fn)
        if fp + tn:
            fpr[name] = fp / (fp + tn)
    gaps = [_difference(r) for r in (tpr, fpr) if r]
    return max(gaps, default=0.0)


def disparate_refusal_rate(groups: Groups) -> tuple[float, float]:
    """(difference, ratio) of refusal rates: ratio is lowest over highest."""
    rates = _rates(groups, "refusals")
    return _difference(rates), _ratio(rates)


def evaluate_bias(
    groups: Groups, thresholds: BiasThresholds | Mapping[str, float] | None = None
) -> list[BiasViolation]:
    """Every metric that crosses its threshold; confusion-based metrics only when counted."""
    if thresholds is None:
        t = BiasThresholds()
    elif isinstance(thresholds, BiasThresholds):
        t = thresholds
    else:
        t = BiasThresholds(**thresholds)
    out: list[BiasViolation] = []
    sel = selection_rates(groups)
    lo, hi = min(sel, key=sel.__getitem__), max(sel, key=sel.__getitem__)
    if _difference(sel) > t.demographic_parity_difference:
        out.append(
            BiasViolation(
                "demographic_parity_difference",
                _difference(sel),
                t.demographic_parity_difference,
                lo,
                hi,
            )
        )
    if _ratio(sel) < t.demographic_parity_ratio:
        out.append(
            BiasViolation(
                "demographic_parity_ratio", _ratio(sel), t.demographic_parity_ratio, lo, hi
            )
        )
    if all(g.tp is not None for g in groups.values()):
        eod = equalized_odds_difference(groups)
        if eod > t.equalized_odds_difference:
            out.append(
                BiasViolation("equalized_odds_difference", eod, t.equalized_odds_difference, lo, hi)
            )
    ref = _rates(groups, "refusals")
    r_hi, r_lo = max(ref, key=ref.__getitem__), min(ref, key=ref.__getitem__)
    diff, ratio = _difference(ref), _ratio(ref)
    if diff > t.refusal_rate_difference:
        out.append(
            BiasViolation("refusal_rate_difference", diff, t.refusal_rate_difference, r_hi, r_lo)
        )
    if ratio < t.refusal_rate_ratio:
        out.append(BiasViolation("refusal_rate_ratio", ratio, t.refusal_rate_ratio, r_hi, r_lo))
    return out
