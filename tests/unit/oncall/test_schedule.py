"""Who is on call: rotations by local wall-clock time (across DST), layers, overrides. Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from defib.model import InvalidInput
from defib.oncall import (
    Level,
    Override,
    Policy,
    Rotation,
    Schedule,
    Target,
    parse_duration,
    parse_handoff,
    policies_for,
    shifts,
    timetable,
    who_is_on_call,
)
from defib.oncall.ical import feed

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(people: tuple[str, ...] = ("alice", "bob"), at: time = time(9, 0)) -> Rotation:
    return Rotation(people=people, shift=timedelta(days=1), handoff_time=at, start=date(2026, 3, 1))


def test_daily_handoff_stays_at_local_nine_across_spring_forward() -> None:
    """Berlin moves to CEST on 2026-03-29: the hand-off is 08:00 UTC the day before and
    07:00 UTC that day, i.e. 09:00 local both times."""
    sched = Schedule("s", BERLIN, (daily(),))
    # 2026-03-28 09:00 CET = 08:00 UTC; 2026-03-29 09:00 CEST = 07:00 UTC.
    before = who_is_on_call(sched, utc(2026, 3, 28, 7, 59))
    assert who_is_on_call(sched, utc(2026, 3, 28, 8, 0)) != before
    holder = who_is_on_call(sched, utc(2026, 3, 28, 8, 0))
    assert who_is_on_call(sched, utc(2026, 3, 29, 6, 59)) == holder  # 08:59 CEST
    assert who_is_on_call(sched, utc(2026, 3, 29, 7, 0)) != holder  # 09:00 CEST


def test_daily_handoff_stays_at_local_nine_across_fall_back() -> None:
    """On 2026-10-25 Berlin returns to CET: the hand-off moves from 07:00 to 08:00 UTC."""
    sched = Schedule("s", BERLIN, (daily(),))
    holder = who_is_on_call(sched, utc(2026, 10, 25, 7, 30))  # 08:30 CET: yesterday's person
    assert who_is_on_call(sched, utc(2026, 10, 24, 7, 0)) == holder  # 09:00 CEST the day before
    assert who_is_on_call(sched, utc(2026, 10, 25, 8, 0)) != holder  # 09:00 CET


def test_shift_spanning_the_change_is_an_hour_short_and_the_next_is_full() -> None:
    """shifts() gives the real lengths: 23 h for the shift over the night clocks jump, then 24 h,
    each starting at 09:00 local (08:00 UTC in CET, 07:00 UTC in CEST)."""
    sched = Schedule("s", BERLIN, (daily(),))
    got = shifts(sched, utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    lengths = [s.end - s.start for s in got[1:-1]]
    assert lengths == [timedelta(hours=23), timedelta(hours=24), timedelta(hours=24)]
    assert [s.start.astimezone(UTC).hour for s in got[1:]] == [8, 7, 7, 7]


def test_handoff_inside_the_skipped_hour_happens_when_the_clock_passes_it() -> None:
    """A 02:30 hand-off on the night 02:00 becomes 03:00 takes effect at 03:00 CEST."""
    sched = Schedule("s", BERLIN, (daily(at=time(2, 30)),))
    before = who_is_on_call(sched, utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert who_is_on_call(sched, utc(2026, 3, 29, 1, 0)) != before  # 03:00 CEST
    (_, change) = shifts(sched, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    assert change.start == utc(2026, 3, 29, 1, 0)


def test_weekly_rotation_hands_off_monday_nine_local() -> None:
    """`1w` with `monday 09:00`: alice the first week from Monday 5 Jan, bob the next."""
    rot = Rotation(
        ("alice", "bob"),
        timedelta(weeks=1),
        time(9, 0),
        handoff_weekday=0,
        start=date(2026, 1, 1),
    )
    sched = Schedule("s", BERLIN, (rot,))
    assert who_is_on_call(sched, utc(2026, 1, 5, 7, 59)) is None  # before the first hand-off
    assert who_is_on_call(sched, utc(2026, 1, 5, 8, 0)) == "alice"
    assert who_is_on_call(sched, utc(2026, 1, 12, 7, 59)) == "alice"
    assert who_is_on_call(sched, utc(2026, 1, 12, 8, 0)) == "bob"
    assert who_is_on_call(sched, utc(2026, 1, 19, 8, 0)) == "alice"


def test_a_later_layer_wins_where_it_is_active() -> None:
    """A business-hours layer on top of a 24/7 one: carol 09:00-17:00 local, else the base."""
    base = daily(("alice",))
    day = Rotation(
        ("carol",), timedelta(days=1), time(9, 0), start=date(2026, 3, 1), hours=(time(9), time(17))
    )
    sched = Schedule("s", BERLIN, (base, day))
    assert who_is_on_call(sched, utc(2026, 6, 1, 7, 0)) == "carol"  # 09:00 CEST
    assert who_is_on_call(sched, utc(2026, 6, 1, 15, 0)) == "alice"  # 17:00 CEST


def test_an_override_wins_over_every_layer_and_the_latest_wins_among_overrides() -> None:
    """An override beats the rotation while it lasts; of two overlapping, the later made."""
    sched = Schedule("s", BERLIN, (daily(("alice",)),))
    a = Override(
        "1", "s", "bob", utc(2026, 6, 1, 10), utc(2026, 6, 1, 12), created_at=utc(2026, 5, 1)
    )
    b = Override(
        "2", "s", "dave", utc(2026, 6, 1, 11), utc(2026, 6, 1, 13), created_at=utc(2026, 5, 2)
    )
    other = Override("3", "elsewhere", "erin", utc(2026, 6, 1), utc(2026, 6, 2))
    overrides = [a, b, other]
    assert who_is_on_call(sched, utc(2026, 6, 1, 9, 59), overrides) == "alice"
    assert who_is_on_call(sched, utc(2026, 6, 1, 10, 30), overrides) == "bob"
    assert who_is_on_call(sched, utc(2026, 6, 1, 11, 30), overrides) == "dave"
    assert who_is_on_call(sched, utc(2026, 6, 1, 13, 0), overrides) == "alice"
    got = [
        (s.person, s.source)
        for s in shifts(sched, utc(2026, 6, 1, 9), utc(2026, 6, 1, 14), overrides)
    ]
    assert got == [
        ("alice", "rotation 1"),
        ("bob", "override 1"),
        ("dave", "override 2"),
        ("alice", "rotation 1"),
    ]


def test_naive_instants_are_refused() -> None:
    """`at` without a zone would silently mean the machine's: refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        who_is_on_call(Schedule("s", BERLIN, (daily(),)), datetime(2026, 6, 1))


def test_timetable_waits_and_repeats() -> None:
    """Level 1 at 0, level 2 10 min later; the repeat starts `repeat_after` after the last."""
    policy = Policy(
        "p",
        (
            Level(timedelta(0), (Target(schedule="s"),)),
            Level(timedelta(minutes=10), (Target(person="c"),)),
        ),
        repeat=1,
        repeat_after=timedelta(minutes=5),
    )
    got = [(p.level, p.repeat, p.offset, p.escalated) for p in timetable(policy)]
    assert got == [
        (1, 0, timedelta(0), False),
        (2, 0, timedelta(minutes=10), True),
        (1, 1, timedelta(minutes=15), True),
        (2, 1, timedelta(minutes=25), True),
    ]


def test_policies_for_falls_back_to_the_default_only_for_what_no_system_covers() -> None:
    """Configured systems page their policies; an unknown system or none adds the default."""
    systems = {"a": "pa", "b": None}
    assert policies_for(["a"], systems, "pd") == ["pa"]
    assert policies_for(["a", "x"], systems, "pd") == ["pa", "pd"]
    assert policies_for([], systems, "pd") == ["pd"]
    assert policies_for(["b"], systems, "pd") == ["pd"]
    assert policies_for(["b"], systems, None) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("10m", timedelta(minutes=10)),
        ("12h", timedelta(hours=12)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    """Durations are a whole number and one unit."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "1.5h", "-1m", "10 minutes"])
def test_bad_durations_are_refused(text: str) -> None:
    """Anything else is an error saying what a duration looks like."""
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_duration(text)


def test_handoffs_parse_and_bad_ones_are_refused() -> None:
    """`monday 09:00`, `mon 09:00` and `09:00` are hand-offs; `funday 09:00` is not."""
    assert parse_handoff("monday 09:00") == (0, time(9))
    assert parse_handoff("Sun 18:30") == (6, time(18, 30))
    assert parse_handoff("09:00") == (None, time(9))
    with pytest.raises(InvalidInput, match="weekday"):
        parse_handoff("funday 09:00")
    with pytest.raises(InvalidInput, match="HH:MM"):
        parse_handoff("monday 25:00")


def test_ical_feed_has_one_event_per_shift_in_utc() -> None:
    """The feed is RFC 5545: CRLF lines, UTC times, a summary naming the person."""
    sched = Schedule("ml-primary", BERLIN, (daily(),))
    got = shifts(sched, utc(2026, 3, 28, 8), utc(2026, 3, 30, 7))
    text = feed("ml-primary", got, utc(2026, 3, 1))
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert text.count("BEGIN:VEVENT") == 2
    assert "DTSTART:20260328T080000Z" in text and "DTSTART:20260329T070000Z" in text
    assert "SUMMARY:On call (ml-primary): " in text


def test_too_many_shifts_is_an_error_not_a_wrong_answer() -> None:
    """An hourly rotation over a year exceeds the shift limit: refused, never truncated."""
    hourly = Rotation(("a", "b"), timedelta(hours=1), time(0), start=date(2026, 1, 1))
    with pytest.raises(ValueError, match="shorter"):
        shifts(Schedule("s", BERLIN, (hourly,)), utc(2026, 1, 1), utc(2026, 12, 1))
