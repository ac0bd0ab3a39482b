"""The `people:`, `schedules:` and `escalation_policies:` sections of defib.yaml.

Each error names its key (`schedules.0.rotations.1.shift: ...`); references between the
sections and from `owners.escalation_policy` are checked once the whole file is read
(`check_references`). `directory` turns the sections into the pure domain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from defib.model import InvalidInput
from defib.oncall.durations import parse_clock, parse_duration, parse_handoff
from defib.oncall.escalation import MAX_LEVELS, MAX_REPEAT
from defib.oncall.model import (
    DEFAULT_SEVERITIES,
    Directory,
    Level,
    Person,
    Policy,
    Rotation,
    Schedule,
    Target,
)

if TYPE_CHECKING:
    from defib.config import Settings

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")


def _check(fn: Any, value: str) -> str:
    try:
        fn(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None
    return value


def _email(v: str) -> str:
    # defib.config imports this module: its checks are looked up when a value is checked.
    from defib.config import _email as check

    return check(v)


def _url(v: str) -> str:
    from defib.config import _http_url as check

    return check(v)


def _env(v: str) -> str:
    from defib.config import _env_name as check

    return check(v)


Duration = Annotated[str, AfterValidator(lambda v: _check(parse_duration, v))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonConfig(_Section):
    """Someone who can be paged, and how."""

    name: Name
    email: Annotated[str, AfterValidator(_email)] | None = None
    slack_user: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,20}$")
    webhook: Annotated[str, AfterValidator(_url)] | None = None
    webhook_secret_env: Annotated[str, AfterValidator(_env)] | None = None
    pagerduty_routing_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Events v2 integration key of a PagerDuty service that pages this person.",
    )


class RotationConfig(_Section):
    people: list[Name] = Field(min_length=1, max_length=200)
    shift: Duration = Field(description="How long each person holds it: 12h, 1d, 1w.")
    handoff: str = Field(description='Local hand-off time: "monday 09:00" or "09:00".')
    start: date = Field(default=date(2026, 1, 5), description="Local date the rotation starts.")
    end: date | None = Field(default=None, description="Local date it stops (exclusive).")
    hours: str | None = Field(
        default=None, description='Active only in this local daily window: "09:00-17:00".'
    )

    @field_validator("shift")
    @classmethod
    def _positive(cls, v: str) -> str:
        if parse_duration(v).total_seconds() < 3600:
            raise ValueError("a shift is at least 1h")
        return v

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, v: str) -> str:
        return _check(parse_handoff, v)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        if v is None:
            return v
        start, sep, end = v.partition("-")
        if not sep:
            raise ValueError(f"{v!r} is not a window (HH:MM-HH:MM)")
        _check(parse_clock, start)
        _check(parse_clock, end)
        return v

    def to_rotation(self) -> Rotation:
        weekday, at = parse_handoff(self.handoff)
        hours = None
        if self.hours is not None:
            a, _, b = self.hours.partition("-")
            hours = (parse_clock(a), parse_clock(b))
        return Rotation(
            people=tuple(self.people),
            shift=parse_duration(self.shift),
            handoff_time=at,
            handoff_weekday=weekday,
            start=self.start,
            end=self.end,
            hours=hours,
        )


class ScheduleConfig(_Section):
    name: Name
    time_zone: str = Field(description="IANA name, e.g. Europe/Berlin.")
    rotations: list[RotationConfig] = Field(min_length=1, max_length=20)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return v

    def to_schedule(self) -> Schedule:
        return Schedule(self.name, self.time_zone, tuple(r.to_rotation() for r in self.rotations))


class TargetConfig(_Section):
    schedule: Name | None = None
    person: Name | None = None

    def model_post_init(self, context: Any) -> None:
        if (self.schedule is None) == (self.person is None):
            raise PydanticCustomError("target", "name exactly one of schedule or person")


class LevelConfig(_Section):
    after: Duration = Field(default="0s", description="Delay from the level before (level 1: 0s).")
    notify: list[TargetConfig] = Field(min_length=1, max_length=50)


class EscalationPolicyConfig(_Section):
    name: Name
    levels: list[LevelConfig] = Field(min_length=1, max_length=MAX_LEVELS)
    repeat: int = Field(default=0, ge=0, le=MAX_REPEAT, description="Run the chain again N times.")
    repeat_after: Duration = Field(
        default="10m", description="Wait after the last level before the chain starts again."
    )
    severities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SEVERITIES), description="Severities that page."
    )

    @field_validator("severities")
    @classmethod
    def _severities(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in SEVERITIES]
        if bad:
            raise ValueError(f"{', '.join(bad)}: not a severity (SEV1 ... SEV4)")
        return v

    def to_policy(self) -> Policy:
        return Policy(
            name=self.name,
            levels=tuple(
                Level(
                    parse_duration(level.after),
                    tuple(Target(t.schedule, t.person) for t in level.notify),
                )
                for level in self.levels
            ),
            repeat=self.repeat,
            repeat_after=parse_duration(self.repeat_after),
            severities=tuple(self.severities),
        )


def _error(loc: Sequence[str | int], message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("reference", message), loc=tuple(loc), input=value
    )


def _duplicates(kind: str, names: Sequence[str]) -> list[InitErrorDetails]:
    seen: dict[str, int] = {}
    out: list[InitErrorDetails] = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(
                _error((kind, i, "name"), f"{name!r} is already {kind}.{seen[name]}.name", name)
            )
        seen.setdefault(name, i)
    return out


def check_references(settings: Settings) -> None:
    """Raise a ValidationError naming every on-call name that points nowhere."""
    people = {p.name for p in settings.people}
    schedules = {s.name for s in settings.schedules}
    policies = {p.name for p in settings.escalation_policies}
    errors = _duplicates("people", [p.name for p in settings.people])
    errors += _duplicates("schedules", [s.name for s in settings.schedules])
    errors += _duplicates("escalation_policies", [p.name for p in settings.escalation_policies])
    for si, schedule in enumerate(settings.schedules):
        for ri, rotation in enumerate(schedule.rotations):
            for pi, person in enumerate(rotation.people):
                if person not in people:
                    where = ("schedules", si, "rotations", ri, "people", pi)
                    errors.append(_error(where, f"{person!r} is not in people:", person))
    for pi, policy in enumerate(settings.escalation_policies):
        for li, level in enumerate(policy.levels):
            for ti, target in enumerate(level.notify):
                base: tuple[str | int, ...] = (
                    "escalation_policies",
                    pi,
                    "levels",
                    li,
                    "notify",
                    ti,
                )
                if target.schedule is not None and target.schedule not in schedules:
                    msg = f"{target.schedule!r} is not in schedules:"
                    errors.append(_error((*base, "schedule"), msg, target.schedule))
                if target.person is not None and target.person not in people:
                    msg = f"{target.person!r} is not in people:"
                    errors.append(_error((*base, "person"), msg, target.person))
    owners: list[tuple[tuple[str | int, ...], str | None]] = [
        (("systems", i, "owners", "escalation_policy"), s.owners.escalation_policy)
        for i, s in enumerate(settings.systems)
    ]
    if settings.default_owners is not None:
        owners.append(
            (("default_owners", "escalation_policy"), settings.default_owners.escalation_policy)
        )
    for loc, name in owners:
        if name is not None and name not in policies:
            errors.append(_error(loc, f"{name!r} is not in escalation_policies:", name))
    if errors:
        raise ValidationError.from_exception_data("Settings", errors)


def directory(settings: Settings) -> Directory:
    """The on-call sections as domain values, by name."""
    return Directory(
        people={
            p.name: Person(
                p.name,
                email=p.email,
                slack_user=p.slack_user,
                webhook=p.webhook,
                webhook_secret_env=p.webhook_secret_env,
                pagerduty_routing_key=p.pagerduty_routing_key,
            )
            for p in settings.people
        },
        schedules={s.name: s.to_schedule() for s in settings.schedules},
        policies={p.name: p.to_policy() for p in settings.escalation_policies},
    )
