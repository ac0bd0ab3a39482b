"""The pure parts: matchers, weekly windows, durations, and the silenced/inhibited decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defib.model import InvalidInput
from defib.silences import (
    DEFAULT_INHIBIT_RULES,
    Silence,
    Source,
    Weekly,
    inhibited_by,
    label_sets,
    parse_matcher,
    parse_matchers,
    silenced_by,
)
from defib.silences.decide import InhibitRule, relevant_rules, source_types
from defib.silences.schedule import parse_days, parse_duration, parse_hhmm

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    ("text", "labels", "hit"),
    [
        ("system=chat-api", {"system": "chat-api"}, True),
        ("system=chat-api", {"system": "chat-api-2"}, False),
        ("system!=chat-api", {}, True),
        ('severity=~"SEV1|SEV2"', {"severity": "SEV2"}, True),
        ('severity=~"SEV1|SEV2"', {"severity": "SEV22"}, False),  # anchored
        ("team!~ml.*", {"team": "mlops"}, False),
        ('team!=""', {}, False),  # a missing label is the empty string
        ('team!=""', {"team": "a"}, True),
    ],
)
def test_matchers_follow_alertmanager(text: str, labels: dict[str, str], hit: bool) -> None:
    assert parse_matcher(text).matches(labels) is hit


def test_braces_and_bad_matchers() -> None:
    assert [str(m) for m in parse_matchers(['{a="x,y", b=~"c"}'])] == ['a="x,y"', 'b=~"c"']
    for bad in ("nope", "a=~(", "1a=b"):
        with pytest.raises(InvalidInput):
            parse_matcher(bad)


def test_weekly_window_opens_on_its_days_and_across_midnight() -> None:
    sunday = Weekly(parse_days("sun"), parse_hhmm("02:00"), parse_duration("2h"))
    assert sunday.current(NOW) == (NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert sunday.current(NOW + timedelta(hours=1)) is None
    assert sunday.next(NOW + timedelta(hours=1))[0] == NOW + timedelta(days=7, hours=-1)
    late = Weekly(parse_days("sat"), parse_hhmm("23:00"), parse_duration("5h"))
    assert late.current(NOW) is not None  # Saturday 23:00 until Sunday 04:00
    assert late.describe() == "weekly sat 23:00-04:00 UTC"
    assert parse_days("daily") == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    for bad in ("", "2", "h", "2x", "0m"):
        with pytest.raises(InvalidInput):
            parse_duration(bad)


def _silence(*matchers: str, schedule: Weekly | None = None, sid: str = "s1") -> Silence:
    return Silence(
        id=sid,
        matchers=parse_matchers(matchers),
        starts_at=NOW - timedelta(days=30),
        ends_at=NOW + timedelta(days=30),
        created_by="t",
        comment="",
        updated_at=NOW,
        schedule=schedule,
    )


def test_states_and_a_window_outside_its_hours_is_pending() -> None:
    s = _silence("system=a")
    assert s.state(NOW) == "active"
    assert s.state(NOW - timedelta(days=31)) == "pending"
    assert s.state(NOW + timedelta(days=30)) == "expired"
    window = _silence(
        "system=a", schedule=Weekly(("mon",), parse_hhmm("02:00"), timedelta(hours=1))
    )
    assert window.state(NOW) == "pending"
    assert window.shown_range(NOW)[0] == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_an_alert_is_silenced_only_when_every_system_is() -> None:
    silences = [_silence("system=a", sid="sa"), _silence("system=b", sid="sb")]
    both = label_sets({"team": "x"}, "toxicity", "SEV2", ["a", "b"])
    assert silenced_by(silences, both, NOW) == ["sa", "sb"]
    some = label_sets({}, "toxicity", "SEV2", ["a", "c"])
    assert silenced_by(silences, some, NOW) == []
    # Derived fields win over a raw label of the same name.
    derived = label_sets({"severity": "critical"}, "bias", "SEV3", ["c"])
    assert silenced_by([_silence("severity=SEV3")], derived, NOW) == ["s1"]


def test_default_rule_availability_inhibits_performance_of_the_same_system() -> None:
    source = Source(7, label_sets({}, "availability", "SEV1", ["x"]))
    slow_x = label_sets({}, "performance", "SEV3", ["x"])
    slow_y = label_sets({}, "performance", "SEV3", ["y"])
    toxic_x = label_sets({}, "toxicity", "SEV2", ["x"])
    assert inhibited_by(DEFAULT_INHIBIT_RULES, [source], slow_x) == 7
    assert inhibited_by(DEFAULT_INHIBIT_RULES, [source], slow_y) is None
    assert inhibited_by(DEFAULT_INHIBIT_RULES, [source], toxic_x) is None


def test_only_rules_targeting_the_alert_read_sources_and_of_pinned_types() -> None:
    """Intake reads open incidents only for rules that target the alert, of their types."""
    toxic = label_sets({}, "toxicity", "SEV2", ["x"])
    slow = label_sets({}, "performance", "SEV3", ["x"])
    assert relevant_rules(DEFAULT_INHIBIT_RULES, toxic) == []
    assert source_types(relevant_rules(DEFAULT_INHIBIT_RULES, slow)) == {"availability"}
    loose = InhibitRule(parse_matchers(["team=a"]), parse_matchers(["type=performance"]))
    assert source_types([*DEFAULT_INHIBIT_RULES, loose]) is None
