"""A silence: matchers and a time range (Alertmanager's model), optionally recurring. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from defib.silences.matchers import Matcher, describe, matches_all
from defib.silences.schedule import Weekly

State = Literal["pending", "active", "expired"]


@dataclass(frozen=True, slots=True)
class Silence:
    """Quiet for alerts whose labels match every matcher, between starts_at and ends_at.

    With a `schedule` it is a maintenance window: quiet only while one of its weekly
    occurrences is open, and `starts_at`/`ends_at` bound the whole series.
    """

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime
    schedule: Weekly | None = None
    name: str | None = None  # a maintenance window from the config has one

    def state(self, now: datetime) -> State:
        if now >= self.ends_at:
            return "expired"
        if now < self.starts_at:
            return "pending"
        if self.schedule is not None and self.schedule.current(now) is None:
            return "pending"
        return "active"

    def silences(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) == "active" and matches_all(self.matchers, labels)

    def shown_range(self, now: datetime) -> tuple[datetime, datetime]:
        """What Alertmanager clients see: a window's current or next occurrence."""
        if self.schedule is None or self.state(now) == "expired":
            return self.starts_at, self.ends_at
        start, end = self.schedule.next(max(now, self.starts_at))
        return start, min(end, self.ends_at)

    @property
    def text(self) -> str:
        return describe(self.matchers)

    def shown_comment(self) -> str:
        if self.schedule is None:
            return self.comment
        label = f"maintenance window {self.name}" if self.name else "maintenance window"
        return f"[{label}: {self.schedule.describe()}] {self.comment}".rstrip()

    def to_v2(self, now: datetime) -> dict[str, Any]:
        """Alertmanager's gettableSilence."""
        start, end = self.shown_range(now)
        return {
            "id": self.id,
            "status": {"state": self.state(now)},
            "updatedAt": self.updated_at,
            "matchers": [m.to_dict() for m in self.matchers],
            "startsAt": start,
            "endsAt": end,
            "createdBy": self.created_by,
            "comment": self.shown_comment(),
        }

    def summary(self, now: datetime) -> dict[str, Any]:
        """For timelines and defib's own listings."""
        return {
            "silence_id": self.id,
            "matchers": self.text,
            "state": self.state(now),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "created_by": self.created_by,
            "comment": self.comment,
            "schedule": self.schedule.describe() if self.schedule else None,
        }
