"""The lexical backstop and the triage path for alerts the rules leave undecided."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from defib.classify import Backstop, Classifier, TypeDescription, analyse
from defib.model import Alert, IncidentType, InvalidInput, Sample, Severity

T = IncidentType
DATA = (Path(__file__).parents[2] / "test_classify_backstop.py").parent / "ingest" / "data"


def alert(title: str, description: str = "", **kw: object) -> Alert:
    return Alert(source="test", title=title, description=description, **kw)  # type: ignore[arg-type]


def no_samples(_: Sample) -> None:
    return None


# Words no default rule knows, chosen to be close to one description each.
UNKNOWN_LEAK = (
    "Credential scanner hit in generated code",
    "Scanner found access tokens and a private key emitted in assistant code blocks.",
)


def test_backstop_names_the_nearest_description_and_its_terms() -> None:
    m = Backstop.default().nearest("access tokens and a private key emitted in code blocks")
    assert m is not None
    assert m.type is T.DATA_LEAK
    assert m.description == "secrets-exposure"
    assert "key" in m.terms and m.confident


def test_backstop_shares_nothing_with_unrelated_text() -> None:
    assert Backstop.default().nearest("quarterly sales kickoff agenda") is None


def test_backstop_caches_answers_by_text() -> None:
    b = Backstop([TypeDescription("d", T.BIAS, "demographic parity gap between groups")])
    first = b.nearest("parity gap")
    assert b.nearest("parity gap") is first


def test_one_shared_word_is_never_confident() -> None:
    b = Backstop([TypeDescription("d", T.DATA_LEAK, "credit card numbers exposed")])
    m = b.nearest("card")
    assert m is not None and not m.confident


def test_bad_descriptions_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not an incident type"):
        Backstop.from_mapping({"descriptions": [{"id": "x", "type": "weird", "text": "t"}]})
    with pytest.raises(InvalidInput):
        Backstop([])


def test_rules_only_analysis_leaves_unknown_vocabulary_undecided() -> None:
    a = alert(*UNKNOWN_LEAK, severity="warning")
    assert analyse(a, inspector=no_samples).type is None


def test_confident_backstop_types_an_alert_no_rule_knows() -> None:
    a = alert(*UNKNOWN_LEAK, severity="warning", systems=("coder",))
    analysis = Classifier(inspector=no_samples).analyse(a)
    assert analysis.type is T.DATA_LEAK and analysis.stage == "backstop"
    assert "secrets-exposure" in analysis.reason
    assert analysis.to_dict()["backstop"]["description"] == "secrets-exposure"


def test_unsure_backstop_opens_a_triage_incident_with_the_policy_severity() -> None:
    backstop = Backstop(
        [
            TypeDescription("h", T.HALLUCINATION, "zorbling frobs quux"),
            TypeDescription("p", T.PERFORMANCE, "zorbling frobs blarg"),
        ]
    )
    a = alert("Zorbling frobs", "frobs zorbling", severity="high", systems=("bot",))
    d = Classifier(inspector=no_samples, backstop=backstop).decide(a)
    assert d.needs_triage
    assert d.type is not None and d.fingerprint is not None
    assert d.severity == dict(d.severity_by_type)[d.type]
    assert dict(d.severity_by_type)[T.DATA_LEAK] is Severity.SEV1
    assert d.reason.startswith("needs triage")


@pytest.mark.parametrize("severity", ["info", "low"])
def test_low_severity_undecided_alerts_are_not_incidents(severity: str) -> None:
    backstop = Backstop([TypeDescription("h", T.HALLUCINATION, "zorbling frobs quux")])
    a = alert("Zorbling", "today", severity=severity, systems=("bot",))
    d = Classifier(inspector=no_samples, backstop=backstop).decide(a)
    assert d.type is None and not d.needs_triage
    assert d.systems == ("bot",)
    assert "backstop" in d.reason


def test_no_severity_and_a_single_coincidental_word_is_no_incident() -> None:
    a = alert("Weekly model card review reminder", "Please review the model card by Friday.")
    assert Classifier(inspector=no_samples).decide(a).type is None


def test_gates_still_win_over_the_backstop() -> None:
    a = alert("Watchdog", "credentials private key leaked", labels={"alertname": "Watchdog"})
    assert Classifier(inspector=no_samples).decide(a).type is None


def test_backstop_can_be_switched_off() -> None:
    a = alert(*UNKNOWN_LEAK, severity="warning")
    assert Classifier(inspector=no_samples, backstop=False).decide(a).type is None


def test_fresh_alert_sets_score_with_the_backstop() -> None:
    """The fresh tuning and unseen sets (other monitors' words) classify right."""
    from defib.intake.formats import parse_payload

    classifier = Classifier()
    total = right = 0
    for name in ("fresh-tune_alerts.jsonl", "fresh-unseen_alerts.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            row = json.loads(line)
            for a, exp in zip(parse_payload(row["payload"]), row["expected"], strict=True):
                total += 1
                d = classifier.decide(a)
                right += (d.type.value if d.type else None) == exp["type"]
    assert right / total >= 0.95
