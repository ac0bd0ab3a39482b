"""Type decision with its evidence: status, explicit type, decisive rules, weighted
evidence rules and sample inspection, scored per type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from defib.classify.backstop import Backstop, BackstopMatch
from defib.classify.exposure import CONTAINED_ON_INPUT, leak_doubt
from defib.classify.inspectors import SampleInspector, default_inspector
from defib.classify.ruleset import RuleSet
from defib.classify.severity import SeverityPolicy
from defib.classify.text import AlertView
from defib.model import Alert, IncidentType

# When two types score the same, the more harmful reading wins: missing a leak costs more
# than over-paging on a slow endpoint.
TYPE_PRIORITY: tuple[IncidentType, ...] = (
    IncidentType.DATA_LEAK,
    IncidentType.TOXICITY,
    IncidentType.AVAILABILITY,
    IncidentType.HALLUCINATION,
    IncidentType.BIAS,
    IncidentType.PERFORMANCE,
)
_PRIORITY_RANK = {t: i for i, t in enumerate(TYPE_PRIORITY)}
_CLOSING_STATUSES = frozenset({"resolved", "acknowledged"})


@dataclass(frozen=True)
class Hit:
    """One rule or detector that contributed to a decision."""

    rule: str
    type: IncidentType | None
    points: float
    term: str
    in_headline: bool = False


@dataclass(frozen=True)
class Analysis:
    """The full story behind a type decision (what `--explain` prints)."""

    type: IncidentType | None
    reason: str
    stage: str
    scores: Mapping[str, float] = field(default_factory=dict)
    hits: tuple[Hit, ...] = ()
    # A best guess that a person should confirm (see `defib.classify.undecided`).
    needs_triage: bool = False
    backstop: BackstopMatch | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "stage": self.stage,
            "needs_triage": self.needs_triage,
            "scores": dict(self.scores),
            "hits": [
                {
                    "rule": h.rule,
                    "type": h.type.value if h.type else None,
                    "points": h.points,
                    "term": h.term,
                    "in_headline": h.in_headline,
                }
                for h in self.hits
            ],
        }
        if self.backstop is not None:
            b = self.backstop
            out["backstop"] = {
                "type": b.type.value,
                "score": round(b.score, 4),
                "description": b.description,
                "runner_up": b.runner_up.value if b.runner_up else None,
                "runner_up_score": round(b.runner_up_score, 4),
                "terms": list(b.terms[:8]),
                "confident": b.confident,
            }
        return out


HEARTBEAT_NAMES = frozenset({"watchdog", "deadmansswitch", "infoinhibitor"})


def analyse(
    alert: Alert,
    rules: RuleSet | None = None,
    inspector: SampleInspector | None = None,
    *,
    system_labels: Iterable[str] = (),
    backstop: Backstop | Callable[[], Backstop] | None = None,
    policy: SeverityPolicy | None = None,
) -> Analysis:
    """Decide the type of `alert` and keep every piece of evidence.

    With a `backstop`, an alert the rules leave undecided is compared with the type
    descriptions and may be typed by them or opened for triage (`undecided.settle`); a
    callable is called for it only then (building it is the costly part).
    """
    if alert.status in _CLOSING_STATUSES:
        return Analysis(
            None,
            f"status {alert.status}: resolved notifications close incidents, never open one",
            "status",
        )
    if alert.explicit_type is not None:
        return Analysis(
            alert.explicit_type,
            f"explicit type {alert.explicit_type.value} set by the sender",
            "explicit",
        )
    rs = rules if rules is not None else RuleSet.default()
    view = AlertView(alert, system_labels)
    scores: dict[IncidentType, float] = {}
    hits: list[Hit] = []
    for rule, term, in_head in rs.evaluate(view):
        if rule.weight is None:
            hit = Hit(rule.id, rule.type, 0.0, term, in_head)
            if rule.type is None:
                return Analysis(
                    None, f"rule {rule.id} ({term!r}): not an incident", "gate", {}, (hit,)
                )
            return Analysis(rule.type, f"rule {rule.id} ({term!r})", "rule", {}, (hit,))
        points = rule.weight * (rs.headline_factor if in_head else 1.0)
        assert rule.type is not None  # a weighted rule always names a type (checked on load)
        scores[rule.type] = scores.get(rule.type, 0.0) + points
        hits.append(Hit(rule.id, rule.type, points, term, in_head))
    if alert.samples and rs.sample_weight > 0:
        check = inspector if inspector is not None else default_inspector()
        found: dict[IncidentType, str] = {}
        for i, sample in enumerate(alert.samples):
            verdict = check(sample)
            if verdict is not None and verdict[0] not in found:
                found[verdict[0]] = f"sample[{i}]: {verdict[1]}"
        for itype, note in found.items():
            scores[itype] = scores.get(itype, 0.0) + rs.sample_weight
            hits.append(Hit("samples", itype, rs.sample_weight, note))
    score_map = {t.value: s for t, s in scores.items()}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], _PRIORITY_RANK[kv[0]]))
    set_aside = ""
    if ranked and ranked[0][0] is IncidentType.DATA_LEAK and ranked[0][1] >= rs.min_score:
        doubt = _leak_doubt(view.text, hits)
        if doubt is not None:
            # A data_leak pages security at SEV1: the rules' answer needs exposed data in the
            # text, like the backstop's (`exposure.leak_doubt`); else the next reading.
            set_aside = f"data_leak set aside: {doubt}"
            ranked = _without_leak(ranked, hits, weak_too=doubt == CONTAINED_ON_INPUT, rs=rs)
            if doubt == CONTAINED_ON_INPUT and (not ranked or ranked[0][1] < rs.min_score):
                # The alert is about contained input: what else it says is too weak to open
                # an incident on, and the backstop would only match the leak words again.
                return Analysis(
                    None, f"{set_aside}: not an incident", "exposure", score_map, tuple(hits)
                )
    if not ranked or ranked[0][1] < rs.min_score:
        why = (
            f"weak evidence only: {ranked[0][0].value} {ranked[0][1]:g} < {rs.min_score:g}"
            if ranked
            else "no rule or detector matched"
        )
        if set_aside:
            why = f"{set_aside}; {why}"
        undecided = Analysis(None, why, "scores", score_map, tuple(hits))
        if backstop is None:
            return undecided
        from defib.classify.undecided import settle

        bs = backstop() if callable(backstop) else backstop
        return settle(alert, view.text, undecided, ranked, bs, policy)
    best, best_score = ranked[0]
    parts = [
        f"{h.rule} +{h.points:g} {h.term!r}{' in headline' if h.in_headline else ''}"
        if h.rule != "samples"
        else f"{h.term} +{h.points:g}"
        for h in hits
        if h.type is best
    ]
    reason = f"{best.value} {best_score:g}: " + "; ".join(parts)
    if len(ranked) > 1:
        reason += f" (next: {ranked[1][0].value} {ranked[1][1]:g})"
    if set_aside:
        reason += f"; {set_aside}"
    return Analysis(best, reason, "scores", score_map, tuple(hits))


def _leak_doubt(text: str, hits: list[Hit]) -> str | None:
    """Why the rules' data_leak reading is in doubt (None: it stands). A detector that found
    leaked data in a sampled response is the exposure itself."""
    if any(h.rule == "samples" and h.type is IncidentType.DATA_LEAK for h in hits):
        return None
    return leak_doubt(text)


def _without_leak(
    ranked: list[tuple[IncidentType, float]], hits: list[Hit], *, weak_too: bool, rs: RuleSet
) -> list[tuple[IncidentType, float]]:
    """The ranking without data_leak. With `weak_too`, also without the points of weak rules
    (weight below `min_score`, such as the word "guardrail"): they corroborate a reading but
    never carry one alone, and here the reading they went with is the one set aside."""
    if not weak_too:
        return [kv for kv in ranked if kv[0] is not IncidentType.DATA_LEAK]
    weights = {r.id: r.weight for r in rs.rules if r.weight is not None}
    scores: dict[IncidentType, float] = {}
    for h in hits:
        if h.type is None or h.type is IncidentType.DATA_LEAK:
            continue
        if h.rule != "samples" and weights.get(h.rule, rs.min_score) < rs.min_score:
            continue
        scores[h.type] = scores.get(h.type, 0.0) + h.points
    return sorted(scores.items(), key=lambda kv: (-kv[1], _PRIORITY_RANK[kv[0]]))


def classify_incident(
    alert: Alert, rules: RuleSet | None = None, inspector: SampleInspector | None = None
) -> tuple[IncidentType | None, str]:
    """The alert's incident type (None: not an incident) and a human-readable reason."""
    a = analyse(alert, rules, inspector)
    return a.type, a.reason
