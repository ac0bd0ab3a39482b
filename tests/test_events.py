"""Typed timeline kinds and ingest actions keep today's strings; a reopen is recognised."""

from __future__ import annotations

from datetime import UTC, datetime

from defib.events import IngestAction, TimelineKind, is_reopen
from defib.incidents.review import evidence_text
from defib.model import Incident, IncidentType, Severity, Status, TimelineEvent


def test_enum_values_are_the_stored_strings() -> None:
    assert TimelineKind.TRANSITION == "transition"
    assert TimelineKind.STEP_VERIFIED == "run_step_verified"
    assert IngestAction.DUPLICATE == "duplicate"
    assert {a.value for a in IngestAction} >= {"created", "merged", "silenced", "folded"}


def test_reopen_is_a_transition_with_the_reopen_command() -> None:
    assert is_reopen("transition", {"command": "reopen", "from": "resolved"})
    assert not is_reopen("transition", {"command": "resolve"})
    assert not is_reopen("reopened", {"command": "reopen"})


def test_the_alert_that_reopened_an_incident_counts_as_taxonomy_evidence() -> None:
    """Review reads the reopening alert (it looked for a `reopened` kind no one writes)."""
    at = datetime(2026, 12, 7, tzinfo=UTC)
    incident = Incident(
        seq=1,
        type=IncidentType.TOXICITY,
        severity=Severity.SEV2,
        title="t",
        description="",
        status=Status.DETECTED,
        detected_at=at,
    )
    reopen = TimelineEvent(
        at, "am", "transition", {"command": "reopen", "alert": {"title": "JailbreakSpike"}}
    )
    other = TimelineEvent(at, "am", "transition", {"command": "acknowledge", "note": "Hidden"})
    texts = evidence_text(incident, [reopen, other])
    assert any("JailbreakSpike" in t for t in texts)
    assert not any("Hidden" in t for t in texts)
