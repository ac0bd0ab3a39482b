"""Incident use cases against real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defib.incidents.lifecycle import IncidentDraft, IncidentPatch, IncidentService
from defib.intake.folding import AlertFolding
from defib.intake.results import Triage
from defib.model import (
    Alert,
    Command,
    IllegalTransition,
    IncidentType,
    InvalidInput,
    NotFound,
    Severity,
    Status,
)
from defib.store.database import Database
from defib.store.incidents import IncidentFilter


class FakeClock:
    """A controllable clock: tests move time explicitly."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(db: Database, clock: FakeClock) -> IncidentService:
    return IncidentService(db, clock=clock)


def draft(**kw: object) -> IncidentDraft:
    base: dict[str, object] = {
        "type": IncidentType.HALLUCINATION,
        "severity": Severity.SEV3,
        "title": "RAG answers cite missing sources",
        "affected_systems": ["rag-answerer", "rag-answerer", "kb"],
    }
    base.update(kw)
    return IncidentDraft(**base)  # type: ignore[arg-type]


def test_declare_assigns_sequential_ids_and_records_creation(svc: IncidentService) -> None:
    first = svc.declare(draft(), actor="alice")
    second = svc.declare(draft(title="another"), actor="bob")
    assert (first.id, second.id) == ("INC-1", "INC-2")
    assert first.affected_systems == ("rag-answerer", "kb")
    assert first.status is Status.DETECTED
    events = svc.timeline("INC-1")
    assert [(e.kind, e.actor) for e in events] == [("created", "alice")]
    assert events[0].data["how"] == "declared"


def test_blank_title_is_refused(svc: IncidentService) -> None:
    with pytest.raises(InvalidInput, match="title"):
        svc.declare(draft(title="   "), actor="alice")


def test_lifecycle_round_trip_stamps_times_and_timeline(
    svc: IncidentService, clock: FakeClock
) -> None:
    inc = svc.declare(draft(), actor="alice")
    clock.advance(minutes=2)
    svc.apply(inc.id, Command.ACKNOWLEDGE, "bob", note="on it")
    clock.advance(minutes=10)
    svc.apply(inc.id, Command.MITIGATE, "bob")
    clock.advance(minutes=5)
    done = svc.apply(inc.id, Command.RESOLVE, "bob")
    assert done.status is Status.RESOLVED
    assert done.acknowledged_at == done.detected_at + timedelta(minutes=2)
    assert done.resolved_at == done.detected_at + timedelta(minutes=17)
    kinds = [(e.kind, e.data.get("to")) for e in svc.timeline(inc.id)]
    assert kinds == [
        ("created", None),
        ("transition", "acknowledged"),
        ("transition", "mitigated"),
        ("transition", "resolved"),
    ]
    assert svc.timeline(inc.id)[1].data["note"] == "on it"


def test_illegal_transition_changes_nothing(svc: IncidentService, clock: FakeClock) -> None:
    inc = svc.declare(draft(), actor="alice")
    clock.advance(seconds=1)
    svc.apply(inc.id, Command.MITIGATE, "bob")
    with pytest.raises(IllegalTransition):
        svc.apply(inc.id, Command.ACKNOWLEDGE, "bob")
    assert svc.get(inc.id).status is Status.MITIGATED
    assert len(svc.timeline(inc.id)) == 2


def test_patch_records_each_change(svc: IncidentService) -> None:
    inc = svc.declare(draft(), actor="alice")
    out = svc.patch(inc.id, IncidentPatch(severity=Severity.SEV1, commander="carol"), "alice")
    assert (out.severity, out.commander) == (Severity.SEV1, "carol")
    events = svc.timeline(inc.id)
    assert [e.kind for e in events] == ["created", "severity_changed", "commander_changed"]
    assert events[1].data == {"from": "SEV3", "to": "SEV1"}
    # An identical patch writes nothing.
    svc.patch(inc.id, IncidentPatch(severity=Severity.SEV1), "alice")
    assert len(svc.timeline(inc.id)) == 3


def test_unknown_incident_is_not_found(svc: IncidentService) -> None:
    with pytest.raises(NotFound):
        svc.get("INC-999")
    with pytest.raises(NotFound):
        svc.apply("INC-999", Command.ACKNOWLEDGE, "bob")
    with pytest.raises(NotFound):
        svc.add_note("INC-999", "hello", "bob")


def test_list_filters_and_paginates_newest_first(svc: IncidentService) -> None:
    for i in range(7):
        svc.declare(
            draft(
                title=f"i{i}",
                type=IncidentType.TOXICITY if i % 2 else IncidentType.BIAS,
                affected_systems=["chat"] if i < 3 else ["search"],
            ),
            actor="a",
        )
    page, cursor = svc.search(IncidentFilter(), limit=3)
    assert [i.title for i in page] == ["i6", "i5", "i4"]
    assert cursor is not None
    page2, cursor2 = svc.search(IncidentFilter(), limit=3, cursor=cursor)
    assert [i.title for i in page2] == ["i3", "i2", "i1"]
    page3, cursor3 = svc.search(IncidentFilter(), limit=3, cursor=cursor2)
    assert ([i.title for i in page3], cursor3) == (["i0"], None)
    tox, _ = svc.search(IncidentFilter(type=[IncidentType.TOXICITY]), limit=50)
    assert [i.title for i in tox] == ["i5", "i3", "i1"]
    chat, _ = svc.search(IncidentFilter(system="chat"), limit=2)
    assert [i.title for i in chat] == ["i2", "i1"]


def test_bad_cursor_is_invalid_input(svc: IncidentService) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        svc.search(IncidentFilter(), cursor="not-a-cursor")


def test_incidents_survive_a_new_connection(database_url: str, svc: IncidentService) -> None:
    """What one process wrote, a fresh engine (a restarted server) reads back whole."""
    inc = svc.declare(draft(labels={"team": "search"}), actor="alice")
    svc.add_note(inc.id, "looking", "alice")
    fresh = Database(database_url)
    try:
        again = IncidentService(fresh).get(inc.id)
        assert again == svc.get(inc.id)
        assert again.detected_at.tzinfo is not None
        assert [e.kind for e in IncidentService(fresh).timeline(inc.id)] == ["created", "note"]
    finally:
        fresh.dispose()


def test_record_event_with_a_key_lands_once(svc: IncidentService) -> None:
    inc = svc.declare(draft(), actor="alice")
    first = svc.record_event(inc.id, "step", {"n": 1}, "run:1", idempotency_key="run1:0")
    again = svc.record_event(inc.id, "step", {"n": 2}, "run:1", idempotency_key="run1:0")
    assert again.id == first.id
    assert again.data == {"n": 1}
    assert [e.kind for e in svc.timeline(inc.id)] == ["created", "step"]


# ---------------------------------------------------------------- triage and retype


def alert(title: str = "Toxic replies", **kw: object) -> Alert:
    return Alert(source="test", title=title, **kw)  # type: ignore[arg-type]


def test_triage_alert_opens_a_flagged_incident_and_retype_applies_its_policy_row(
    db: Database, svc: IncidentService, clock: FakeClock
) -> None:
    fold = AlertFolding(db, svc, clock=clock)
    guess = Triage(
        IncidentType.TOXICITY,
        Severity.SEV2,
        ("chat-api",),
        "fp-triage",
        "needs triage, best guess toxicity",
        needs_triage=True,
        severity_by_type=(
            (IncidentType.TOXICITY, Severity.SEV2),
            (IncidentType.BIAS, Severity.SEV3),
        ),
    )
    [r] = fold.ingest([(alert("Odd replies"), guess)], "am")
    inc = svc.get(r.incident_id or "")
    assert inc.needs_triage and inc.type is IncidentType.TOXICITY
    created = svc.timeline(inc.id)[0]
    assert created.data["needs_triage"] is True
    assert created.data["severity_by_type"]["bias"] == "SEV3"

    retyped = svc.retype(inc.id, IncidentType.BIAS, "skewed by dialect", "alice")
    assert (retyped.type, retyped.severity, retyped.needs_triage) == (
        IncidentType.BIAS,
        Severity.SEV3,
        False,
    )
    assert svc.get(inc.id).needs_triage is False
    event = svc.timeline(inc.id)[-1]
    assert (event.kind, event.actor) == ("retyped", "alice")
    assert event.data["reason"] == "skewed by dialect" and event.data["was_triage"] is True
    # The fingerprint stays: the same alerts keep merging into this incident.
    [again] = fold.ingest([(alert("Odd replies"), guess)], "am")
    assert (again.action, again.incident_id) == ("merged", inc.id)


def test_retype_keeps_severity_without_a_policy_row_and_refuses_closed_or_blank(
    svc: IncidentService,
) -> None:
    inc = svc.declare(draft(severity=Severity.SEV2), actor="alice")
    with pytest.raises(InvalidInput, match="reason"):
        svc.retype(inc.id, IncidentType.BIAS, "  ", "bob")
    retyped = svc.retype(inc.id, IncidentType.BIAS, "fairness, not grounding", "bob")
    assert (retyped.type, retyped.severity) == (IncidentType.BIAS, Severity.SEV2)
    for command in (Command.RESOLVE, Command.CLOSE):
        svc.apply(inc.id, command, "bob")
    with pytest.raises(IllegalTransition, match="reopen"):
        svc.retype(inc.id, IncidentType.TOXICITY, "why", "bob")
