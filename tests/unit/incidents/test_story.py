"""The story: timeline events as the sentences the console, CLI and postmortem share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from defib.events import TimelineKind as K
from defib.incidents.story import (
    AskKind,
    Event,
    Tone,
    tell,
    urgency_key,
    waiting_for_you,
    what_was_done,
    who,
)
from defib.playbooks.runs import RunStatus

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
RUN = "r1a2524e7ba076777030"


def ev(kind: str, data: dict[str, Any], actor: str = f"run:{RUN}", s: int = 0) -> Event:
    return Event(T0 + timedelta(seconds=s), actor, kind, data)


def texts(events: list[Event]) -> list[str]:
    return [line.text for line in tell(events)]


def test_a_rollback_names_the_system_and_both_versions() -> None:
    line = tell(
        [
            ev(
                K.SYSTEM_STATE_CHANGED,
                {
                    "system": "support-bot",
                    "change": "route",
                    "to_version": "v1",
                    "marked_bad": "v2",
                    "active_version": "v1",
                    "changed": True,
                },
            )
        ]
    )[0]
    assert line.text == "Rolled support-bot back from v2 to v1"
    assert line.tone is Tone.DONE and line.acted


def test_a_plain_route_takes_its_from_version_from_an_earlier_event() -> None:
    events = [
        ev(
            K.SYSTEM_STATE_CHANGED,
            {
                "system": "bot",
                "change": "disable",
                "active_version": "v3",
                "disabled": True,
                "reason": "leak",
            },
        ),
        ev(
            K.SYSTEM_STATE_CHANGED,
            {"system": "bot", "change": "route", "to_version": "v4", "active_version": "v4"},
        ),
    ]
    assert texts(events) == ["Disabled bot (kill switch on): leak", "Routed bot from v3 to v4"]


def test_a_change_that_changed_nothing_says_so_and_is_not_an_action() -> None:
    line = tell(
        [ev(K.SYSTEM_STATE_CHANGED, {"system": "bot", "change": "disable", "changed": False})]
    )[0]
    assert "no change" in line.text and not line.acted


def test_transitions_say_the_verb_the_states_and_the_note() -> None:
    line = tell(
        [
            ev(
                K.TRANSITION,
                {
                    "from": "detected",
                    "to": "acknowledged",
                    "command": "acknowledge",
                    "note": "on it",
                },
                "alice",
            )
        ]
    )[0]
    assert line.text == "Acknowledged (detected → acknowledged): on it"
    assert line.actor == "alice"


def test_verified_carries_how_and_the_mitigation() -> None:
    line = tell(
        [
            ev(
                K.STEP_VERIFIED,
                {
                    "how": "1 captured sample(s) replayed clean (pii)",
                    "mitigated": "marked mitigated",
                    "unverified": [],
                },
            )
        ]
    )[0]
    assert line.text == "Verified: 1 captured sample(s) replayed clean (pii); marked mitigated"


def test_needs_attention_lists_its_reasons_and_waits() -> None:
    line = tell([ev(K.RUN_NEEDS_ATTENTION, {"reasons": ["verify is unverified", "x"]})])[0]
    assert line.text == "Needs attention: verify is unverified; x"
    assert line.tone is Tone.WAITING


def test_run_actor_reads_as_defib_and_its_playbook() -> None:
    lines = tell(
        [
            ev(K.RUN_PLANNED, {"run_id": RUN, "playbook": "data_leak"}, "gateway"),
            ev(K.STEP_STARTED, {"step": "disable_endpoint", "attempt": 1}),
        ]
    )
    assert lines[1].actor == "defib (playbook data_leak)"
    assert who("system") == "defib" and who("alice") == "alice"


def test_a_pagerduty_notice_is_a_page_and_the_channel_is_not_repeated() -> None:
    assert texts(
        [
            ev(K.STEP_NOTIFICATION_SENT, {"channel": "pagerduty", "target": "alice (on call)"}),
            ev(K.STEP_NOTIFICATION_SENT, {"channel": "webhook", "target": "webhook (bot)"}),
            ev(K.STEP_NOTIFICATION_SENT, {"channel": "slack", "target": "#security"}),
        ]
    ) == ["Paged alice (on call)", "Notified webhook (bot)", "Notified #security by slack"]


def test_what_was_done_drops_bookkeeping_and_folds_per_user_notices() -> None:
    events = [ev(K.STEP_STARTED, {"step": "notify_affected_users", "attempt": 1})]
    events += [
        ev(K.STEP_USER_NOT_NOTIFIABLE, {"user_id": f"u{i}", "reason": "not in the directory"})
        for i in range(3)
    ]
    events.append(ev(K.STEP_FINISHED, {"step": "x", "status": "skipped", "reason": "x: nope"}))
    done = [line.text for line in what_was_done(tell(events))]
    assert done == ["Could not tell 3 affected users: not in the directory", "Skipped x: nope"]


def test_an_unknown_kind_still_reads_as_words_with_its_main_fields() -> None:
    assert texts([ev("run_step_page_sent", {"target": "bob", "secret_hash": "abc"})]) == [
        "Page sent: target bob"
    ]


def test_events_from_the_api_json_read_the_same() -> None:
    raw = {"at": "2026-12-07T03:00:00Z", "actor": "alice", "kind": "note", "data": {"text": "hi"}}
    line = tell([raw])[0]
    assert line.text == "Note: hi" and line.at == T0


@dataclass
class FakeStep:
    index: int
    name: str
    status: RunStatus
    output: dict[str, Any] | None = None


@dataclass
class FakeRun:
    id: str
    playbook: str
    status: RunStatus
    error: str | None = None
    dry_run: bool = False
    steps: list[FakeStep] = field(default_factory=list)


def test_waiting_for_you_lists_ack_approvals_attention_unverified_and_triage() -> None:
    runs = [
        FakeRun(
            "r1",
            "data_leak",
            RunStatus.WAITING_APPROVAL,
            steps=[FakeStep(0, "notify_affected_users", RunStatus.WAITING_APPROVAL)],
        ),
        FakeRun(
            "r2",
            "hallucination",
            RunStatus.NEEDS_ATTENTION,
            "verify is unverified",
            steps=[FakeStep(1, "verify", RunStatus.UNVERIFIED, {"reason": "no probe"})],
        ),
        FakeRun("r3", "x", RunStatus.NEEDS_ATTENTION, "dry", dry_run=True),
    ]
    asks = waiting_for_you(status="detected", needs_triage=True, runs=runs)
    assert [a.kind for a in asks] == [
        AskKind.ACKNOWLEDGE,
        AskKind.APPROVE,
        AskKind.UNVERIFIED,
        AskKind.ATTENTION,
        AskKind.TRIAGE,
    ]
    assert asks[1].run_id == "r1" and asks[1].step_index == 0
    assert "no probe" in asks[2].text


def test_nothing_waits_on_a_mitigated_incident_whose_runs_succeeded() -> None:
    runs = [FakeRun("r1", "p", RunStatus.SUCCEEDED, steps=[FakeStep(0, "a", RunStatus.SUCCEEDED)])]
    assert waiting_for_you(status="mitigated", needs_triage=False, runs=runs) == []


def test_urgency_puts_unacknowledged_sev1_first_then_waiting_then_severity_and_age() -> None:
    def key(status: str, sev: str, minutes: int, waiting: bool = False) -> tuple[Any, ...]:
        return urgency_key(
            status=status,
            severity=sev,
            waiting=waiting,
            detected_at=T0 - timedelta(minutes=minutes),
        )

    rows = {
        "mitigated SEV3 new": key("mitigated", "SEV3", 1),
        "sev1 unacked": key("detected", "SEV1", 5),
        "sev2 waiting approval": key("acknowledged", "SEV2", 50, waiting=True),
        "sev1 acked": key("acknowledged", "SEV1", 60),
        "sev3 acked old": key("acknowledged", "SEV3", 90),
        "resolved sev1": key("resolved", "SEV1", 0),
    }
    assert sorted(rows, key=rows.__getitem__) == [
        "sev1 unacked",
        "sev2 waiting approval",
        "sev1 acked",
        "sev3 acked old",
        "mitigated SEV3 new",
        "resolved sev1",
    ]


def test_a_decided_wait_for_approval_no_longer_reads_as_waiting() -> None:
    lines = tell(
        [
            ev(K.STEP_WAITING_APPROVAL, {"run_id": RUN, "step": "notify", "role": "responder"}),
            ev(K.STEP_WAITING_APPROVAL, {"run_id": "r2", "step": "notify"}, "run:r2"),
            ev("run_step_approved", {"run_id": RUN, "step": "notify", "note": "ok"}, "alice"),
        ]
    )
    assert [line.tone for line in lines] == [Tone.INFO, Tone.WAITING, Tone.DONE]
    assert lines[2].text == "Approved notify: ok"
