"""Bias metrics over grouped counts agree with fairlearn on generated per-row data."""

from __future__ import annotations

import random

import pytest

from defib.detectors.bias import (
    BiasThresholds,
    GroupOutcome,
    demographic_parity_difference,
    demographic_parity_ratio,
    disparate_refusal_rate,
    equalized_odds_difference,
    evaluate_bias,
)


def _rows(seed: int) -> tuple[list[int], list[int], list[str]]:
    rng = random.Random(seed)
    groups = ["a", "b", "c"][: rng.randint(2, 3)]
    bias = {g: rng.uniform(0.1, 0.9) for g in groups}
    y_true, y_pred, sens = [], [], []
    for _ in range(rng.randint(200, 600)):
        g = rng.choice(groups)
        t = int(rng.random() < 0.5)
        p = int(rng.random() < (bias[g] + 0.3 * t) / 1.3)
        y_true.append(t)
        y_pred.append(p)
        sens.append(g)
    return y_true, y_pred, sens


def _counts(y_true: list[int], y_pred: list[int], sens: list[str]) -> dict[str, GroupOutcome]:
    out = {}
    for g in sorted(set(sens)):
        rows = [(t, p) for t, p, s in zip(y_true, y_pred, sens, strict=True) if s == g]
        out[g] = GroupOutcome(
            n=len(rows),
            positives=sum(p for _, p in rows),
            tp=sum(t and p for t, p in rows),
            fp=sum((not t) and p for t, p in rows),
            tn=sum((not t) and (not p) for t, p in rows),
            fn=sum(t and (not p) for t, p in rows),
        )
    return out


@pytest.mark.parametrize("seed", range(20))
def test_metrics_match_fairlearn(seed: int) -> None:
    """Demographic parity difference/ratio and equalized odds match fairlearn's values."""
    fm = pytest.importorskip("fairlearn.metrics")
    y_true, y_pred, sens = _rows(seed)
    groups = _counts(y_true, y_pred, sens)
    kw = {"sensitive_features": sens}
    assert demographic_parity_difference(groups) == pytest.approx(
        fm.demographic_parity_difference(y_true, y_pred, **kw)
    )
    assert demographic_parity_ratio(groups) == pytest.approx(
        fm.demographic_parity_ratio(y_true, y_pred, **kw)
    )
    assert equalized_odds_difference(groups) == pytest.approx(
        fm.equalized_odds_difference(y_true, y_pred, **kw)
    )


def test_refusal_rate_difference_and_ratio() -> None:
    """Refusal rates 10% vs 30% give difference 0.2 and ratio 1/3."""
    groups = {"x": GroupOutcome(n=100, refusals=10), "y": GroupOutcome(n=50, refusals=15)}
    diff, ratio = disparate_refusal_rate(groups)
    assert diff == pytest.approx(0.2)
    assert ratio == pytest.approx(1 / 3)


def test_evaluate_bias_reports_each_crossed_threshold() -> None:
    """Only metrics beyond their thresholds are reported, naming both extreme groups."""
    groups = {
        "g1": GroupOutcome(n=100, positives=60, tp=40, fp=20, tn=30, fn=10, refusals=2),
        "g2": GroupOutcome(n=100, positives=30, tp=20, fp=10, tn=40, fn=30, refusals=3),
    }
    found = {v.metric: v for v in evaluate_bias(groups)}
    assert set(found) == {
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "refusal_rate_ratio",
    }
    assert (
        found["demographic_parity_difference"].worst_group,
        found["demographic_parity_difference"].best_group,
    ) == ("g2", "g1")
    relaxed = BiasThresholds(
        demographic_parity_difference=0.5,
        demographic_parity_ratio=0.1,
        equalized_odds_difference=0.9,
        refusal_rate_ratio=0.1,
    )
    assert evaluate_bias(groups, relaxed) == []


def test_evaluate_bias_accepts_mapping_thresholds() -> None:
    """Thresholds may be given as a plain mapping."""
    groups = {"a": GroupOutcome(n=10, positives=5), "b": GroupOutcome(n=10, positives=4)}
    assert evaluate_bias(groups, {"demographic_parity_difference": 0.05}) != []


def test_empty_or_zero_groups_rejected() -> None:
    """No groups, or a group with n=0, is a ValueError rather than a division error."""
    with pytest.raises(ValueError, match="at least one"):
        demographic_parity_difference({})
    with pytest.raises(ValueError, match="n=0"):
        demographic_parity_difference({"a": GroupOutcome(n=0)})


def test_equalized_odds_needs_confusion_counts() -> None:
    """Equalized odds without tp/fp/tn/fn is an explicit error."""
    with pytest.raises(ValueError, match="confusion"):
        equalized_odds_difference({"a": GroupOutcome(n=3, positives=1)})
