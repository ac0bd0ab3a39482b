"""A failed check on the content is not a failed service (issue 31).

"failed" is availability evidence when a service, a request or a node fails; a validator,
an assertion or a quality check that "failed" reports a verdict on the model's output, and
the type is what the check looks at. The first case is the audit's Guardrails AI probe
(/tmp/audit31/probe.jsonl), the others variants written for these tests.
"""

from __future__ import annotations

import pytest

from defib.classify import Classifier
from defib.model import Alert, IncidentType, Severity

T = IncidentType


@pytest.mark.parametrize(
    ("title", "description", "expected"),
    [
        (
            "Guardrails AI provenance validator failed",
            "ProvenanceLLM validator failed for 12% of answers: the answer is not supported by "
            "the retrieved sources.",
            T.HALLUCINATION,
        ),
        (
            "Faithfulness check failed",
            "The faithfulness check failed on 40 responses: claims contradict the retrieved "
            "context.",
            T.HALLUCINATION,
        ),
        (
            "Output validation failed: toxic language",
            "The ToxicLanguage validator failed for 7% of responses.",
            T.TOXICITY,
        ),
        (
            "Assertion failed for many answers",
            "Assertions on answer grounding failed: answers are not supported by the documents.",
            T.HALLUCINATION,
        ),
    ],
)
def test_a_failed_content_check_takes_the_type_of_what_it_checks(
    title: str, description: str, expected: IncidentType
) -> None:
    a = Alert(source="guardrails", title=title, description=description, severity="medium")
    d = Classifier().decide(a)
    assert d.type is expected, d.reason


def test_the_audit_probe_is_a_sev3_hallucination() -> None:
    a = Alert(
        source="x",
        title="Guardrails AI provenance validator failed",
        description="ProvenanceLLM validator failed for 12% of answers: the answer is not "
        "supported by the retrieved sources.",
        severity="medium",
        systems=("rag-bot",),
    )
    d = Classifier().decide(a)
    assert (d.type, d.severity, d.systems) == (T.HALLUCINATION, Severity.SEV3, ("rag-bot",))


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("Inference requests failed", "1,240 requests failed in the last 5 minutes."),
        ("Model server health check failed", "The health check failed on 3 of 4 replicas."),
        ("Embedding service failed", "The embedding service failed and is restarting."),
        ("Validator service unreachable", "Calls to the validator service failed: timeout."),
    ],
)
def test_a_failed_service_is_still_availability(title: str, description: str) -> None:
    a = Alert(source="x", title=title, description=description, severity="warning")
    d = Classifier().decide(a)
    assert d.type is T.AVAILABILITY, d.reason


def test_a_utilisation_metric_over_its_threshold_is_performance() -> None:
    """An alert that only names a utilisation metric and its threshold measures saturation
    (added after the second held-out group's PTU-utilisation alert, pub2-007; wording ours)."""
    a = Alert(
        source="azure-monitor",
        title="GPUPoolUtilization",
        description="Pool utilization in percent; condition GreaterThan 85.",
        severity="warning",
    )
    d = Classifier().decide(a)
    assert (d.type, d.severity) == (T.PERFORMANCE, Severity.SEV3), d.reason


def test_a_utilisation_alert_that_names_failures_is_availability() -> None:
    a = Alert(
        source="x",
        title="GPU utilization dropped to zero",
        description="All replicas are down: requests are failing with 503.",
        severity="critical",
    )
    assert Classifier().decide(a).type is T.AVAILABILITY
