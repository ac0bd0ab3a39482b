"""Durations (`10m`, `12h`, `1d`, `1w`) and hand-off times (`monday 09:00`, `09:00`). Pure."""

from __future__ import annotations

import re
from datetime import time, timedelta

from defib.model import InvalidInput

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_duration(text: str) -> timedelta:
    """`0s`, `90s`, `10m`, `12h`, `1d`, `2w`: a whole number and one unit."""
    m = _DURATION.match(text.strip().lower())
    if m is None:
        raise InvalidInput(f"{text!r} is not a duration (a number and s, m, h, d or w: 10m, 1w)")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_clock(text: str) -> time:
    m = _HHMM.match(text.strip())
    if m is None:
        raise InvalidInput(f"{text!r} is not HH:MM (24-hour, the schedule's time zone)")
    return time(int(m.group(1)), int(m.group(2)))


def parse_handoff(text: str) -> tuple[int | None, time]:
    """`monday 09:00` (weekday 0-6 and a time) or `09:00` (any day)."""
    parts = text.strip().lower().split()
    if len(parts) == 1:
        return None, parse_clock(parts[0])
    if len(parts) == 2:
        day = parts[0]
        matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day[:3])]
        if len(day) < 3 or not matches or not WEEKDAYS[matches[0]].startswith(day):
            raise InvalidInput(f"{text!r}: {parts[0]!r} is not a weekday (monday ... sunday)")
        return matches[0], parse_clock(parts[1])
    raise InvalidInput(f'{text!r} is not a hand-off ("monday 09:00" or "09:00")')
