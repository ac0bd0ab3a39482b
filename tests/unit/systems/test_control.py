"""The control service on both databases: one transaction per change, keyed, owned."""

from __future__ import annotations

import pytest

from defib.incidents.lifecycle import IncidentDraft, IncidentService
from defib.model import IncidentType, NotFound, Severity
from defib.store import systems as repo
from defib.store.database import Database
from defib.systems.control import STATE_CHANGED, ControlService, Owner
from defib.systems.state import FilterKind, OutputFilter, StateError, VersionStatus


def _incident(db: Database, title: str = "leak") -> int:
    service = IncidentService(db)
    draft = IncidentDraft(IncidentType.DATA_LEAK, Severity.SEV1, title, affected_systems=["chat"])
    return service.declare(draft, "tester").seq


def _kinds(db: Database, seq: int, kind: str) -> list[dict[str, object]]:
    return [dict(e.data) for e in IncidentService(db).timeline(f"INC-{seq}") if e.kind == kind]


def test_disable_is_owned_and_keyed(db: Database) -> None:
    """The first disabler owns the switch; a repeated key changes nothing and writes no
    second event; another incident cannot lift it, its owner can."""
    control = ControlService(db)
    a, b = _incident(db, "a"), _incident(db, "b")
    first = control.disable("chat", Owner("run:x", a, "k1"), "leak")
    assert first.changed and first.state.disabled and first.state.disabled_by == a
    again = control.disable("chat", Owner("run:x", a, "k1"), "leak")
    assert again.repeated and not again.changed
    assert again.state.revision == first.state.revision
    assert len(_kinds(db, a, STATE_CHANGED)) == 1
    other = control.disable("chat", Owner("run:y", b, "k2"), "other")
    assert not other.changed and other.state.disabled_by == a  # b does not take ownership
    not_ours = control.enable("chat", Owner("run:y", b, "k3"))
    assert not not_ours.changed and not_ours.state.disabled
    ours = control.enable("chat", Owner("run:x", a, "k4"))
    assert ours.changed and not ours.state.disabled
    events = _kinds(db, a, STATE_CHANGED)
    assert [e["change"] for e in events] == ["disable", "enable"]
    assert all(e["system"] == "chat" for e in events)


def test_a_change_for_a_missing_incident_changes_nothing(db: Database) -> None:
    control = ControlService(db)
    with pytest.raises(NotFound):
        control.disable("chat", Owner("x", 999, "k"), "r")
    assert control.state("chat") is None


def test_filters_are_removed_by_incident(db: Database) -> None:
    control = ControlService(db)
    a, b = _incident(db, "a"), _incident(db, "b")
    fa = OutputFilter("a1", FilterKind.DETECTOR, detector="pii", incident_seq=a)
    fb = OutputFilter("b1", FilterKind.PATTERN, pattern=r"\d{3}-\d{2}-\d{4}", incident_seq=b)
    control.add_filters("chat", [fa], Owner("x", a, "ka"))
    control.add_filters("chat", [fb], Owner("x", b, "kb"))
    control.add_filters("chat", [fa], Owner("x", a, "ka2"))  # same id again: a no-op
    state = control.state("chat")
    assert state is not None and [f.id for f in state.filters] == ["a1", "b1"]
    after = control.remove_filters("chat", a, Owner("x", a, "ka3"))
    assert [f.id for f in after.state.filters] == ["b1"]


def test_route_marks_the_old_version_bad_and_closes_its_service_period(db: Database) -> None:
    control = ControlService(db)
    seq = _incident(db)
    control.register_versions("chat", ["v1", "v2"])
    control.route("chat", "v2", Owner("config"))
    change = control.route("chat", "v1", Owner("run:r", seq, "kr"), mark_bad="v2")
    assert change.state.active_version == "v1"
    versions = {v.name: v for v in control.versions("chat")}
    assert versions["v2"].status is VersionStatus.BAD
    assert versions["v2"].last_served_at is not None
    assert versions["v1"].first_served_at is not None
    with pytest.raises(StateError, match="'v9' is not a version of chat"):
        control.route("chat", "v9", Owner("x"))


def test_mark_version_and_plan_once(db: Database) -> None:
    control = ControlService(db)
    seq = _incident(db)
    control.register_versions("chat", ["v1"])
    marked = control.mark_version("chat", "v1", VersionStatus.GOOD, Owner("alice", seq, "m"))
    assert marked.status is VersionStatus.GOOD and marked.marked_by == "alice"
    with pytest.raises(NotFound):
        control.mark_version("chat", "nope", VersionStatus.GOOD, Owner("alice"))
    first = control.plan_once(seq, "p", "planned", {"to": "v1"}, "run:r")
    second = control.plan_once(seq, "p", "planned", {"to": "v0"}, "run:r")
    assert first == second == {"to": "v1"}
    with db.read() as conn:
        assert repo.get_version(conn, "chat", "v1") is not None
