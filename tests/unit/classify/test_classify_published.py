"""Classification on published alert rules (issue 31): the set's floor and each signal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from defib.classify import Classifier, RuleSet, analyse
from defib.classify.exposure import reports_exposure
from defib.classify.text import drop_hypotheticals, normalise_text
from defib.intake.formats import parse_payload
from defib.model import Alert, IncidentType, Severity

T = IncidentType
PUBLISHED = (
    (Path(__file__).parents[2] / "test_classify_published.py").parent
    / "classify_data"
    / "published_alerts.jsonl"
)
_SEV = {"SEV1": 1, "SEV2": 2, "SEV3": 3, "SEV4": 4}


def _score(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The shared scorer's measures (type accuracy, severity within one, systems recall)."""
    clf = Classifier()
    n = type_ok = sev_ok = sys_found = sys_total = 0
    leak_pages = 0
    for row in rows:
        decisions = [clf.decide(a) for a in parse_payload(row["payload"])]
        assert len(decisions) == len(row["expected"]), row["id"]
        for d, gold in zip(decisions, row["expected"], strict=True):
            n += 1
            pred_type = d.type.value if d.type else None
            type_ok += pred_type == gold["type"]
            pred_sev = d.severity.value if d.severity else None
            if pred_sev is None or gold["severity"] is None:
                sev_ok += pred_sev == gold["severity"]
            else:
                sev_ok += abs(_SEV[pred_sev] - _SEV[gold["severity"]]) <= 1
            if gold["type"] is not None:
                found = {s.lower() for s in d.systems}
                sys_total += len(gold["systems"])
                sys_found += sum(s.lower() in found for s in gold["systems"])
            if d.type is T.DATA_LEAK and gold["type"] != "data_leak":
                leak_pages += 1
    return {
        "type": type_ok / n,
        "severity_within1": sev_ok / n,
        "systems": sys_found / sys_total if sys_total else 1.0,
        "leak_pages": leak_pages,
        "n": n,
    }


# The second held-out group (publishers not in the first file), built on 2026-12-08.
HELDOUT2 = PUBLISHED.with_name("published_alerts_heldout2.jsonl")


def _rows(split: str | None = None, path: Path = PUBLISHED) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


# ---------------------------------------------------------------- the set


def test_published_set_has_100_alerts_from_10_sources_each_with_its_source() -> None:
    """The set keeps its size and provenance: >= 100 alerts, >= 10 publishers, a source each."""
    rows = _rows()
    assert sum(len(r["expected"]) for r in rows) >= 100
    assert len({r["source_group"] for r in rows}) >= 10
    assert all(r["source"] for r in rows)


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_published_alerts_score_at_the_level_reached(split: str) -> None:
    """Published rules keep the level reached (1.000 on both splits after issue 31): per split
    type and severity-within-one >= 0.97 (one miss in 37 passes, two fail), overall type
    >= 0.99 (one miss in 105 passes, two fail), systems >= 0.99."""
    s = _score(_rows(split))
    assert s["type"] >= 0.97, s
    assert s["severity_within1"] >= 0.97, s
    assert s["systems"] >= 0.99, s
    assert _score(_rows())["type"] >= 0.99


def test_no_published_alert_without_exposed_data_becomes_a_data_leak() -> None:
    """Security is never paged (data_leak, always SEV1) for an alert whose gold is not a leak."""
    assert _score(_rows())["leak_pages"] == 0


def test_second_held_out_group_has_20_alerts_from_5_sources_each_with_its_source() -> None:
    rows = _rows(path=HELDOUT2)
    assert sum(len(r["expected"]) for r in rows) >= 20
    assert len({r["source_group"] for r in rows}) >= 5
    assert all(r["source"] and r["split"] == "heldout2" for r in rows)
    assert not {r["source_group"] for r in rows} & {r["source_group"] for r in _rows()}


def test_second_held_out_group_meets_the_issue_goal() -> None:
    """Issue 31's goal on published alerts: type >= 0.95, severity within one >= 0.97,
    systems >= 0.95, and no data_leak page for an alert whose gold is not a leak (first
    score 0.889 / 0.889 / 1.000 with two such pages; docs/intake.md)."""
    s = _score(_rows(path=HELDOUT2))
    assert s["type"] >= 0.95, s
    assert s["severity_within1"] >= 0.97, s
    assert s["systems"] >= 0.95, s
    assert s["leak_pages"] == 0, s


# ---------------------------------------------------------------- the signals


def _am(name: str, summary: str, description: str, expr: str, severity: str) -> Alert:
    from urllib.parse import quote

    payload = {
        "receiver": "r",
        "status": "firing",
        "version": "4",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "severity": severity, "job": "ray-head"},
                "annotations": {"summary": summary, "description": description},
                "startsAt": "2026-11-30T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://p/graph?g0.expr=" + quote(expr),
            }
        ],
    }
    return parse_payload(payload)[0]


def test_a_missing_series_is_availability_of_what_emits_it_not_a_leak() -> None:
    """`absent()` / "not emitting metrics" reads as availability (SEV1 when critical)."""
    a = _am(
        "MissingMetricScheduler",
        "Scheduler is not emitting metrics anymore",
        "The scheduler exports no resource update series",
        "absent(scheduler_update_time_bucket) == 1",
        "critical",
    )
    d = Classifier().decide(a)
    assert (d.type, d.severity) == (T.AVAILABILITY, Severity.SEV1)


@pytest.mark.parametrize(
    "text",
    ["Prometheus target missing", "A Prometheus job has disappeared", "no data for 10m"],
)
def test_missing_targets_and_no_data_are_availability(text: str) -> None:
    """Targets gone, jobs disappeared and "no data" all read as lost telemetry."""
    a = Alert(source="prometheus", title=text, severity="warning")
    assert analyse(a).type is T.AVAILABILITY


def test_resource_saturation_is_performance_when_failures_are_only_foreseen() -> None:
    """A KV cache at 97% that *expects* failures is performance, not availability."""
    a = _am(
        "DecodeKVCacheCritical",
        "KV cache critical on decode-7",
        "KV cache utilization is 97.1% on decode-7. Imminent OOM or request failures expected.",
        "vllm:kv_cache_usage_perc > 0.95",
        "critical",
    )
    d = Classifier().decide(a)
    assert (d.type, d.severity) == (T.PERFORMANCE, Severity.SEV3)


def test_saturation_with_requests_failing_now_stays_availability() -> None:
    """Failures that happen (not foreseen) outvote the saturation words."""
    a = Alert(
        source="m",
        title="KV cache full",
        description="Requests are failing with 503: the service is unavailable.",
        severity="critical",
    )
    assert analyse(a).type is T.AVAILABILITY


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("memory pressure and may cause request failures.", "memory pressure and"),
        ("usage at 88%. risk of oom kill if usage continues to grow.", "usage at 88%."),
        ("cache at 97%. imminent oom or request failures expected.", "cache at 97%."),
        ("requests are failing now.", "requests are failing now."),
    ],
)
def test_drop_hypotheticals_removes_only_foreseen_consequences(text: str, kept: str) -> None:
    """A hedge ("may cause", "risk of", "imminent") is cut to its sentence's end; facts stay."""
    assert drop_hypotheticals(text).strip(" .") == kept.strip(" .")


@pytest.mark.parametrize(
    ("title", "severity"),
    [("New Model Added", "low"), ("Daily report", "low"), ("Weekly spend summary", "info")],
)
def test_low_severity_notices_of_an_addition_or_a_report_are_no_incident(
    title: str, severity: str
) -> None:
    """Something added, or a periodic report, at a low source severity opens nothing."""
    a = Alert(source="litellm", title=title, description="cost per token 0.0001", severity=severity)
    assert analyse(a).type is None


def test_a_report_that_names_a_failure_is_not_waved_through_as_a_notice() -> None:
    """The notice gate steps aside when the headline itself names a failure."""
    a = Alert(source="x", title="Daily report: provider outage", severity="low")
    assert analyse(a).type is T.AVAILABILITY


def test_sensitive_data_blocked_in_user_input_is_no_incident() -> None:
    """A guardrail that masked PII a user sent reports an attempt, not an exposure."""
    a = Alert(
        source="guardrail",
        title="Guardrail intervened",
        description="Sensitive information was blocked in the user prompt (input).",
        severity="warning",
    )
    assert analyse(a).type is None


def test_sensitive_data_caught_in_model_output_is_still_a_leak() -> None:
    """Secrets the model produced in its output are a leak even when the scanner redacted them."""
    a = Alert(
        source="llm-guard",
        title="Sensitive scanner: output contains secrets",
        description="The output scanner redacted AWS credentials in 3 responses.",
        severity="warning",
    )
    assert Classifier().decide(a).type is T.DATA_LEAK


def test_a_blocked_jailbreak_attempt_is_toxicity() -> None:
    """A jailbreak a prompt shield blocked is an attempt of the jailbreak family (toxicity)."""
    a = Alert(
        source="defender",
        title="A Jailbreak attempt on a model deployment was blocked by Prompt Shields",
        description="Attempt to bypass safeguards, potentially accessing sensitive data.",
        severity="medium",
    )
    assert Classifier().decide(a).type is T.TOXICITY


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("ContextualGroundingPolicy", T.HALLUCINATION),
        ("ContentPolicy harmful content", T.TOXICITY),
    ],
)
def test_a_guardrail_alert_takes_the_type_of_what_it_checks(
    policy: str, expected: IncidentType
) -> None:
    """ "Guardrail" names the tool (weak); the policy it reports decides the type."""
    a = Alert(
        source="cloudwatch",
        title="ALARM: guardrail InvocationsIntervened",
        description=f"Guardrail intervened: GuardrailPolicyType={policy}",
        severity="warning",
    )
    assert analyse(a).type is expected


def test_a_cost_exhaustion_attack_is_performance_and_threat_actors_are_not_toxic() -> None:
    """Denial-of-wallet is a cost spike; "threat actors" is security jargon, not a threat."""
    a = Alert(
        source="defender",
        title="Suspected wallet attack - volume anomaly",
        description="Threat actors send high volumes of requests to cause financial damage.",
        severity="medium",
    )
    d = Classifier().decide(a)
    assert (d.type, d.severity) == (T.PERFORMANCE, Severity.SEV3)


def test_phishing_links_in_model_output_are_toxicity() -> None:
    """A model sharing a malicious URL with a user is harmful output."""
    a = Alert(source="d", title="AI application shared a phishing URL", severity="high")
    assert analyse(a).type is T.TOXICITY


def test_major_service_outage_is_a_full_outage() -> None:
    """ "Major Service Outage" is SEV1 availability."""
    d = Classifier().decide(Alert(source="litellm", title="Major Service Outage", severity="high"))
    assert (d.type, d.severity) == (T.AVAILABILITY, Severity.SEV1)


@pytest.mark.parametrize(
    ("text", "exposed"),
    [
        ("ray gcs is not emitting metrics anymore", False),
        ("clock at node-5 is out of sync; ensure ntp is configured", False),
        ("responses contained another customer's email", True),
        ("private key material in llm response", True),
    ],
)
def test_reports_exposure_needs_words_for_data_that_got_out(text: str, exposed: bool) -> None:
    """Exposure evidence is data vocabulary, not generic words like "emit" or "export"."""
    assert reports_exposure(normalise_text(text)) is exposed


def test_the_backstop_never_guesses_a_leak_for_text_naming_no_exposed_data() -> None:
    """With the telemetry rule off, the backstop's nearest reading of the KubeRay alert is a
    leak ("emitting" ~ "emit"); the answer sets it aside for the runner-up."""
    a = _am(
        "MissingMetricRayGlobalControlStore",
        "Ray GCS is not emitting metrics anymore",
        "Ray GCS is not emitting any metrics for Resource Update requests",
        "(absent(ray_gcs_update_resource_usage_time_bucket) == 1)",
        "critical",
    )
    off = RuleSet.from_mapping(
        {"rules": [{"id": "availability.missing-telemetry", "enabled": False}]}
    )
    rules = RuleSet.default().prepend(off)
    backstop = Classifier().backstop()
    from defib.classify.text import AlertView

    nearest = backstop.nearest(AlertView(a, ()).text)
    assert nearest is not None and nearest.type is T.DATA_LEAK  # what the guard must undo
    result = analyse(a, rules, backstop=backstop)
    assert result.type is not T.DATA_LEAK
    assert "data_leak set aside" in result.reason
