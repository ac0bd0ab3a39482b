"""Who is on call at an instant, and the shifts of a period. Pure.

Hand-offs happen at the schedule's local wall-clock time: a rotation's shift number is
counted on naive local datetimes, so across a daylight-saving change the shift that
spans it is an hour shorter or longer in real time and the next one still starts at
09:00 local. A hand-off time that a spring-forward skips (02:30 on the night clocks jump
from 02:00 to 03:00) takes effect when the local clock passes it, at 03:00.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from defib.oncall.model import Override, Rotation, Schedule


@dataclass(frozen=True, slots=True)
class Shift:
    """`person` (None: nobody) on call from `start` to `end` (UTC), and why."""

    person: str | None
    start: datetime
    end: datetime
    source: str  # "rotation <n>" or "override <id>"


def _anchor(rotation: Rotation) -> datetime:
    """The rotation's first hand-off: naive local time on or after its start date."""
    day = rotation.start
    if rotation.handoff_weekday is not None:
        day += timedelta(days=(rotation.handoff_weekday - day.weekday()) % 7)
    return datetime.combine(day, rotation.handoff_time)


def _in_hours(window: tuple[time, time], local: datetime) -> bool:
    start, end = window
    now = local.time()
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # a window past midnight (22:00-06:00)


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def rotation_person(rotation: Rotation, local: datetime) -> str | None:
    """Who this rotation puts on call at naive local time `local` (None: inactive)."""
    anchor = _anchor(rotation)
    if local < anchor or not rotation.people:
        return None
    if rotation.end is not None and local.date() >= rotation.end:
        return None
    if rotation.hours is not None and not _in_hours(rotation.hours, local):
        return None
    n = math.floor((local - anchor) / rotation.shift)
    return rotation.people[n % len(rotation.people)]


def _override_at(overrides: Sequence[Override], at: datetime) -> Override | None:
    """The override in force at `at`; the one made last wins where several overlap."""
    live = [o for o in overrides if o.start <= at < o.end]
    if not live:
        return None
    return max(live, key=lambda o: (o.created_at or o.start, o.id))


def who_is_on_call(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()
) -> str | None:
    """The person on call for `schedule` at instant `at` (aware), or None."""
    return _decide(schedule, at, overrides)[0]


def _decide(
    schedule: Schedule, at: datetime, overrides: Sequence[Override]
) -> tuple[str | None, str]:
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    ours = [o for o in overrides if o.schedule == schedule.name]
    found = _override_at(ours, at)
    if found is not None:
        return found.person, f"override {found.id}"
    local = _local(at, ZoneInfo(schedule.time_zone))
    # Later rotations are layers on top: the last one active wins.
    for i in range(len(schedule.rotations) - 1, -1, -1):
        person = rotation_person(schedule.rotations[i], local)
        if person is not None:
            return person, f"rotation {i + 1}"
    return None, "nobody"


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local time as a UTC instant; a time the clocks skip maps to the moment the
    clock passes it (the end of the gap), found by bisection between the two offsets."""
    early = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    late = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _local(late, zone) == local:
        return late
    lo, hi = min(early, late), max(early, late)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if _local(mid, zone) >= local:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _boundaries(
    rotation: Rotation, zone: ZoneInfo, start: datetime, end: datetime
) -> set[datetime]:
    """Every instant in [start, end) where this rotation's answer may change."""
    lo, hi = _local(start, zone) - timedelta(days=1), _local(end, zone) + timedelta(days=1)
    anchor = _anchor(rotation)
    out: set[datetime] = set()
    first = max(0, math.floor((lo - anchor) / rotation.shift))
    n = first
    while True:
        local = anchor + n * rotation.shift
        if local > hi:
            break
        out.add(_to_utc(local, zone))
        n += 1
    day = lo.date()
    while day <= hi.date():
        if rotation.hours is not None:
            for t in rotation.hours:
                out.add(_to_utc(datetime.combine(day, t), zone))
        day += timedelta(days=1)
    if rotation.end is not None:
        out.add(_to_utc(datetime.combine(rotation.end, time()), zone))
    return {b for b in out if start < b < end}


MAX_SHIFTS = 5000


def shifts(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Shift]:
    """Who is on call from `start` to `end`, as consecutive shifts (adjacent equal merged)."""
    zone = ZoneInfo(schedule.time_zone)
    points: set[datetime] = {start}
    for rotation in schedule.rotations:
        points |= _boundaries(rotation, zone, start, end)
    for o in overrides:
        if o.schedule == schedule.name:
            points |= {p for p in (o.start, o.end) if start < p < end}
    if len(points) > MAX_SHIFTS:
        raise ValueError(f"more than {MAX_SHIFTS} shifts in the period: ask for a shorter one")
    ordered = sorted(points)
    out: list[Shift] = []
    for i, at in enumerate(ordered):
        until = ordered[i + 1] if i + 1 < len(ordered) else end
        person, source = _decide(schedule, at, overrides)
        if out and out[-1].person == person and out[-1].source == source:
            out[-1] = Shift(person, out[-1].start, until, source)
        else:
            out.append(Shift(person, at, until, source))
    return out
