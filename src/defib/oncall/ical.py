"""An iCalendar (RFC 5545) feed of a schedule's shifts, for calendar subscriptions. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from defib.oncall.schedule import Shift


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []
    chunk = b""
    for ch in line:
        b = ch.encode()
        if len(chunk) + len(b) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += b
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def feed(schedule: str, shifts: Sequence[Shift], now: datetime, host: str = "defib") -> str:
    """The VCALENDAR text: one event per shift with somebody on call."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//defib//on call//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(f'On call: {schedule}')}",
    ]
    for shift in shifts:
        if shift.person is None:
            continue
        uid = f"{schedule}-{_stamp(shift.start)}-{shift.person}@{host}"
        summary = f"On call ({schedule}): {shift.person}"
        if shift.source.startswith("override"):
            summary += " [override]"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{_escape(uid)}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(shift.start)}",
            f"DTEND:{_stamp(shift.end)}",
            f"SUMMARY:{_escape(summary)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
