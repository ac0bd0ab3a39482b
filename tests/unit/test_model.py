"""The incident lifecycle and severity ordering (pure domain logic)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defib.model import (
    STAMP_FIELD,
    Command,
    IllegalTransition,
    Incident,
    IncidentType,
    NotFound,
    Severity,
    Status,
    allowed_commands,
    parse_incident_id,
    raise_severity,
    transition,
    unique_systems,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_incident() -> Incident:
    return Incident(
        seq=7,
        type=IncidentType.TOXICITY,
        severity=Severity.SEV2,
        title="toxic output",
        status=Status.DETECTED,
        detected_at=T0,
    )


def test_sev1_is_the_most_severe() -> None:
    assert Severity.SEV1 > Severity.SEV2 > Severity.SEV3 > Severity.SEV4
    assert max([Severity.SEV3, Severity.SEV1, Severity.SEV4]) is Severity.SEV1
    assert sorted([Severity.SEV1, Severity.SEV4, Severity.SEV2]) == [
        Severity.SEV4,
        Severity.SEV2,
        Severity.SEV1,
    ]


def test_automatic_severity_change_only_raises() -> None:
    assert raise_severity(Severity.SEV3, Severity.SEV1) is Severity.SEV1
    assert raise_severity(Severity.SEV1, Severity.SEV4) is Severity.SEV1


def test_incident_types_have_the_documented_values() -> None:
    assert [t.value for t in IncidentType] == [
        "hallucination",
        "toxicity",
        "data_leak",
        "performance",
        "availability",
        "bias",
    ]


def test_skipping_forward_is_legal_and_stamps_only_the_target() -> None:
    inc, event = transition(new_incident(), Command.RESOLVE, T0 + timedelta(minutes=5), "alice")
    assert inc.status is Status.RESOLVED
    assert inc.resolved_at == T0 + timedelta(minutes=5)
    assert inc.acknowledged_at is None
    assert inc.mitigated_at is None
    assert event.actor == "alice"
    assert event.data == {"from": "detected", "to": "resolved", "command": "resolve"}


def test_going_backwards_is_refused() -> None:
    inc, _ = transition(new_incident(), Command.MITIGATE, T0 + timedelta(seconds=1), "a")
    with pytest.raises(IllegalTransition, match="already mitigated"):
        transition(inc, Command.ACKNOWLEDGE, T0 + timedelta(seconds=2), "a")


def test_reopen_needs_a_resolved_incident() -> None:
    with pytest.raises(IllegalTransition, match="only a resolved incident"):
        transition(new_incident(), Command.REOPEN, T0 + timedelta(seconds=1), "a")


def test_closed_is_final() -> None:
    inc, _ = transition(new_incident(), Command.CLOSE, T0 + timedelta(seconds=1), "a")
    assert allowed_commands(inc.status) == []
    for command in Command:
        with pytest.raises(IllegalTransition):
            transition(inc, command, T0 + timedelta(seconds=2), "a")


def test_reopen_clears_the_later_stamps_and_counts() -> None:
    inc, _ = transition(new_incident(), Command.ACKNOWLEDGE, T0 + timedelta(seconds=1), "a")
    inc, _ = transition(inc, Command.RESOLVE, T0 + timedelta(seconds=2), "a")
    inc, event = transition(inc, Command.REOPEN, T0 + timedelta(seconds=3), "a", note="back")
    assert inc.status is Status.DETECTED
    assert (inc.acknowledged_at, inc.resolved_at) == (None, None)
    assert inc.detected_at == T0
    assert inc.reopened_at == T0 + timedelta(seconds=3)
    assert inc.reopen_count == 1
    assert event.data["note"] == "back"


def test_a_command_dated_before_the_last_change_is_refused() -> None:
    inc, _ = transition(new_incident(), Command.ACKNOWLEDGE, T0 + timedelta(minutes=5), "a")
    with pytest.raises(IllegalTransition, match="before its last change"):
        transition(inc, Command.RESOLVE, T0 + timedelta(minutes=1), "a")


@settings(max_examples=300)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(list(Command)), st.integers(min_value=-5, max_value=3600)),
        max_size=25,
    )
)
def test_no_command_sequence_breaks_order_or_stamps_twice(steps: list[tuple[Command, int]]) -> None:
    """Any sequence of commands keeps the stamps ordered and never overwrites a stamp."""
    inc = new_incident()
    now = T0
    for command, delta in steps:
        now = now + timedelta(seconds=delta)
        before = inc
        try:
            inc, event = transition(inc, command, now, "actor")
        except IllegalTransition:
            assert inc == before  # refused: nothing changed
            continue
        assert event.at == now
        stamps = [t for _, t in inc.stamps() if t is not None]
        assert stamps == sorted(stamps), "lifecycle times out of order"
        assert inc.detected_at == T0, "detected_at must never change"
        for status, name in STAMP_FIELD.items():
            old, new = getattr(before, name), getattr(inc, name)
            if old is not None and command is not Command.REOPEN:
                assert new == old, f"{name} stamped twice"
            if status.order > inc.status.order:
                assert new is None, f"{name} set although status is {inc.status}"
        target_field = STAMP_FIELD[inc.status]
        assert getattr(inc, target_field) is not None


def test_allowed_commands_match_transition() -> None:
    """allowed_commands lists exactly the commands transition accepts."""
    for status in Status:
        inc = dataclasses.replace(new_incident(), status=status)
        for name in STAMP_FIELD.values():
            if name != "detected_at":
                inc = dataclasses.replace(inc, **{name: None})
        ok = []
        for command in Command:
            try:
                transition(inc, command, T0 + timedelta(seconds=1), "a")
                ok.append(command)
            except IllegalTransition:
                pass
        assert ok == allowed_commands(status)


@pytest.mark.parametrize(("text", "seq"), [("INC-42", 42), ("inc-7", 7), ("13", 13)])
def test_incident_ids_parse(text: str, seq: int) -> None:
    assert parse_incident_id(text) == seq


@pytest.mark.parametrize(
    "text", ["", "INC-", "INC-0", "INC-x", "42a", "-1", "INC-007", "²", "INC-١٢", "9" * 19]
)
def test_bad_incident_ids_are_not_found(text: str) -> None:
    with pytest.raises(NotFound):
        parse_incident_id(text)


def test_unique_systems_keeps_order_and_drops_blanks() -> None:
    assert unique_systems(["b", "a", " b ", "", "c"]) == ("b", "a", "c")
