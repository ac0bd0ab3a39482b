"""The postmortem tells the story in the console's sentences: detection, each act with its
result and actor, the rollback, approvals and who gave them, what was verified and how,
open questions."""

from __future__ import annotations

import dataclasses

from defib.incidents.story import tell
from defib.model import Status, TimelineEvent
from defib.playbooks.runs import RunStatus
from defib.postmortem import document
from defib.postmortem.render import render
from tests.support.postmortem import cases


def test_every_format_says_what_the_console_says() -> None:
    doc = cases.data_leak()
    md, html = render(doc, "md"), render(doc, "html")
    for sentence in (
        "Rolled support-bot back from v2 to v1",
        "Verified: 3 captured sample(s) replayed clean (pii); marked mitigated",
        "Disabled support-bot (kill switch on)",
    ):
        assert sentence in md and sentence in html
        assert any(a["what"].startswith(sentence) for a in doc["actions"])
    [rollback] = doc["rollbacks"]
    assert (rollback["system"], rollback["from"], rollback["to"]) == ("support-bot", "v2", "v1")
    assert rollback["who"] == "defib (playbook data_leak)"


def test_an_approved_step_that_was_skipped_says_who_approved_and_why_it_skipped() -> None:
    [approval] = cases.data_leak()["approvals"]
    assert approval["by"] == "alice" and approval["decision"] == "approve"
    assert approval["then"] == "skipped"
    # The reason without the step's name, which the line names already.
    assert approval["why"].startswith("none of the 2 affected users is in the directory")
    # Every instant as the rest of the document writes it (RFC 3339, `Z`).
    assert approval["at"] == "2026-03-01T09:06:39Z"
    md = render(cases.data_leak(), "md")
    assert "notify_affected_users: approve by alice at 2026-03-01T09:06:39Z" in md
    assert "the step then skipped: none of the 2 affected users" in md
    assert "+00:00" not in md


def test_people_are_what_people_did_not_the_runs_their_alerts_planned() -> None:
    incident = cases.data_leak_incident()
    planned = TimelineEvent(
        cases.at(1), "admin", "run_planned", {"run_id": "r1", "playbook": "x", "trigger": "auto"}
    )
    by_hand = TimelineEvent(
        cases.at(2), "admin", "run_planned", {"run_id": "r2", "playbook": "x", "trigger": "manual"}
    )
    assert not document.by_a_person(planned) and document.by_a_person(by_hand)
    assert incident.id == "INC-7"


def test_an_open_incident_with_an_unverified_step_has_open_questions() -> None:
    incident = dataclasses.replace(cases.data_leak_incident(), status=Status.ACKNOWLEDGED)
    run = cases.data_leak_run()
    steps = tuple(
        dataclasses.replace(s, status=RunStatus.UNVERIFIED, output={"reason": "no probe"})
        if s.name == "verify_endpoint"
        else s
        for s in run.steps
    )
    run = dataclasses.replace(
        run,
        status=RunStatus.NEEDS_ATTENTION,
        steps=steps,
        error="verify_endpoint is unverified: confirm the fix or act",
    )
    questions = document.open_questions(incident, [run], None, {})
    assert any("verify_endpoint is unverified: no probe" in q for q in questions)
    assert any("still acknowledged" in q for q in questions)
    assert any("contributing factor" in q for q in questions)


def test_the_timeline_rows_are_the_story_lines() -> None:
    doc = cases.data_leak()
    assert [row["what"] for row in doc["timeline"]] == [
        line.text for line in tell(cases.data_leak_events())
    ]
