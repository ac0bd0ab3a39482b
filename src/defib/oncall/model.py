"""People, schedules and escalation policies: the on-call domain's values. Pure.

A schedule is layers of rotations in one time zone; a later rotation wins where it is
active. Overrides (made by people, stored in the database) win over every rotation.
An escalation policy is levels, each paging schedules and/or people `after` a delay from
the level before, the whole chain run `repeat` more times; only incidents at one of its
`severities` page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str | None = None
    slack_user: str | None = None
    webhook: str | None = None
    # Environment variable holding the HMAC secret for `webhook` (signed like owners' webhooks).
    webhook_secret_env: str | None = None
    # A PagerDuty Events v2 integration key whose service pages this person (phone, SMS,
    # push by their PagerDuty rules); the same kind of key as owners' pagerduty_routing_key.
    pagerduty_routing_key: str | None = None


@dataclass(frozen=True, slots=True)
class Rotation:
    """People taking turns: each holds a shift of `shift`, handing off at local `handoff`.

    Shifts are counted in local wall-clock time from the first hand-off on or after `start`
    (a local date), so a 1-day shift always changes at 09:00 local, whatever the offset
    does in between. `end` (local date, exclusive) and `hours` (a local daily window,
    possibly past midnight) limit where this layer is active.
    """

    people: tuple[str, ...]
    shift: timedelta
    handoff_time: time
    handoff_weekday: int | None = None  # 0 = Monday; None: any day
    start: date = date(2026, 1, 5)
    end: date | None = None
    hours: tuple[time, time] | None = None


@dataclass(frozen=True, slots=True)
class Override:
    """`person` is on call for `schedule` from `start` to `end` (UTC instants)."""

    id: str
    schedule: str
    person: str
    start: datetime
    end: datetime
    created_by: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    time_zone: str
    rotations: tuple[Rotation, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """What a level pages: a schedule (whoever is on call then) or a person."""

    schedule: str | None = None
    person: str | None = None

    @property
    def label(self) -> str:
        return f"schedule:{self.schedule}" if self.schedule else f"person:{self.person}"


@dataclass(frozen=True, slots=True)
class Level:
    after: timedelta
    notify: tuple[Target, ...]


DEFAULT_SEVERITIES = ("SEV1", "SEV2")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    levels: tuple[Level, ...]
    repeat: int = 0
    # Wait after the last level before the chain starts again.
    repeat_after: timedelta = timedelta(minutes=10)
    severities: tuple[str, ...] = DEFAULT_SEVERITIES


@dataclass(frozen=True, slots=True)
class Directory:
    """Everything the config says about on call, looked up by name."""

    people: dict[str, Person] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
