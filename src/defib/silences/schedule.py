"""Weekly maintenance windows in UTC (e.g. every Sunday 02:00 for two hours). Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from defib.model import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_days(text: str | Sequence[str]) -> tuple[str, ...]:
    """`sun`, `sat,sun`, `daily` or a list of those; normalised to Monday-first order."""
    items = text.split(",") if isinstance(text, str) else list(text)
    days: set[str] = set()
    for raw in items:
        word = raw.strip().lower()[:3]
        if word in ("dai", "all", "*"):
            days.update(DAYS)
        elif word in DAYS:
            days.add(word)
        else:
            raise InvalidInput(f"days: {raw!r} is not a day (mon, tue, ... sun, or daily)")
    if not days:
        raise InvalidInput("days: name at least one day")
    return tuple(d for d in DAYS if d in days)


def parse_hhmm(text: str) -> time:
    m = _HHMM.match(text.strip())
    if m is None:
        raise InvalidInput(f"start: {text!r} is not HH:MM (24-hour, UTC)")
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True, slots=True)
class Weekly:
    """Open from `start` (UTC) for `duration` on each of `days`; may run past midnight."""

    days: tuple[str, ...]
    start: time
    duration: timedelta

    def __post_init__(self) -> None:
        if not timedelta(minutes=1) <= self.duration <= timedelta(days=7):
            raise InvalidInput("duration: between one minute and seven days")

    def _opening(self, day: datetime) -> datetime:
        return day.replace(hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0)

    def current(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence open at `now`, if any."""
        for back in range(8):
            opening = self._opening(now - timedelta(days=back))
            if DAYS[opening.weekday()] in self.days and opening <= now < opening + self.duration:
                return opening, opening + self.duration
        return None

    def next(self, now: datetime) -> tuple[datetime, datetime]:
        """The occurrence open now, else the next one to open."""
        found = self.current(now)
        if found is not None:
            return found
        for ahead in range(9):
            opening = self._opening(now + timedelta(days=ahead))
            if DAYS[opening.weekday()] in self.days and opening > now:
                return opening, opening + self.duration
        raise AssertionError("a weekly schedule opens within eight days")

    def describe(self) -> str:
        end = (
            datetime(2000, 1, 3)
            + timedelta(hours=self.start.hour, minutes=self.start.minute)
            + self.duration
        )
        days = "daily" if len(self.days) == 7 else ",".join(self.days)
        return f"weekly {days} {self.start:%H:%M}-{end:%H:%M} UTC"

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": list(self.days),
            "start": f"{self.start:%H:%M}",
            "duration_minutes": int(self.duration.total_seconds() // 60),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weekly:
        return cls(
            parse_days(data["days"]),
            parse_hhmm(str(data["start"])),
            timedelta(minutes=int(data["duration_minutes"])),
        )


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`2h`, `1h30m`, `90m`, `3d` (Go's and amtool's spelling, plus days and weeks)."""
    body = text.strip().lower()
    pos, seconds = 0, 0.0
    for m in _DURATION.finditer(body):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if not body or pos != len(body) or seconds <= 0:
        raise InvalidInput(f"duration {text!r}: expected e.g. 2h, 1h30m, 45m or 3d")
    return timedelta(seconds=seconds)
