"""Who is on call and the overrides people make; owns their transactions.

The API, the CLI and the paging action come through here. Schedules, people and policies
are the config's (read-only); overrides are rows (`store.oncall`), so every replica sees
the same ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from defib.clock import Clock
from defib.model import InvalidInput, NotFound
from defib.oncall.ical import feed
from defib.oncall.model import Directory, Override, Schedule
from defib.oncall.schedule import Shift, shifts, who_is_on_call
from defib.store import oncall as repo
from defib.store.database import Database

MAX_OVERRIDE = timedelta(days=90)
MAX_SPAN = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who holds `schedule` at `at`, since when and until when (None: nobody)."""

    schedule: str
    at: datetime
    person: str | None
    source: str
    start: datetime
    end: datetime


class OncallService:
    def __init__(self, db: Database, directory: Directory, clock: Clock) -> None:
        self.db = db
        self.directory = directory
        self.clock = clock

    def schedule(self, name: str) -> Schedule:
        found = self.directory.schedules.get(name)
        if found is None:
            known = ", ".join(sorted(self.directory.schedules)) or "none configured"
            raise NotFound(f"schedule {name!r} is not configured ({known})")
        return found

    def overrides(self, schedule: str | None = None) -> list[Override]:
        with self.db.read() as conn:
            return repo.list_overrides(conn, schedule=schedule)

    def on_call(self, schedule: str | None = None, at: datetime | None = None) -> list[OnCall]:
        """Who is on call at `at` (default now) for one schedule or each configured one."""
        when = at or self.clock()
        names = [self.schedule(schedule).name] if schedule else sorted(self.directory.schedules)
        out: list[OnCall] = []
        with self.db.read() as conn:
            overrides = repo.list_overrides(conn)
        for name in names:
            sched = self.directory.schedules[name]
            # The shift around `when`: a week either side covers every sane shift length.
            around = shifts(sched, when - timedelta(days=15), when + timedelta(days=15), overrides)
            current = next((s for s in around if s.start <= when < s.end), None)
            person = who_is_on_call(sched, when, overrides)
            if current is None:  # pragma: no cover - shifts() covers the whole span
                current = Shift(person, when, when, "nobody")
            out.append(OnCall(name, when, person, current.source, current.start, current.end))
        return out

    def person_on_call(self, schedule: str, at: datetime) -> str | None:
        with self.db.read() as conn:
            overrides = repo.list_overrides(conn, schedule=schedule)
        return who_is_on_call(self.schedule(schedule), at, overrides)

    def rotation(self, schedule: str, start: datetime, end: datetime) -> list[Shift]:
        if end <= start:
            raise InvalidInput("until: must be after the start")
        if end - start > MAX_SPAN:
            raise InvalidInput("until: at most 366 days after the start")
        sched = self.schedule(schedule)
        try:
            return shifts(sched, start, end, self.overrides(schedule))
        except ValueError as exc:
            raise InvalidInput(f"until: {exc}") from exc

    def ical(self, schedule: str, *, past: timedelta, ahead: timedelta) -> str:
        now = self.clock()
        return feed(schedule, self.rotation(schedule, now - past, now + ahead), now)

    def add_override(
        self,
        schedule: str,
        person: str,
        start: datetime,
        end: datetime,
        actor: str,
        comment: str = "",
    ) -> Override:
        self.schedule(schedule)
        if person not in self.directory.people:
            raise InvalidInput(f"person: {person!r} is not in people:")
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput("start, end: give a time zone (e.g. 2026-12-24T18:00:00+01:00)")
        if end <= start:
            raise InvalidInput("end: must be after start")
        if end - start > MAX_OVERRIDE:
            raise InvalidInput("end: an override lasts at most 90 days")
        if end <= self.clock():
            raise InvalidInput("end: the override would already be over")
        if len(comment) > 2000:
            raise InvalidInput("comment: at most 2000 characters")
        override = Override(
            id=str(uuid.uuid4()),
            schedule=schedule,
            person=person,
            start=start,
            end=end,
            created_by=actor,
            created_at=self.clock(),
        )
        with self.db.write() as conn:
            repo.insert_override(conn, override, comment)
        return override

    def delete_override(self, override_id: str) -> None:
        with self.db.write() as conn:
            if not repo.delete_override(conn, override_id, self.clock()):
                raise NotFound(f"override {override_id} not found")
