"""The `silences:`, `inhibit_rules:` and `maintenance_windows:` sections: which alerts stay
quiet, and who may keep them quiet for how long (docs/silences.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field, model_validator

from defib.config.fields import Section

if TYPE_CHECKING:
    from defib.silences.schedule import Weekly


def _matchers(v: list[str]) -> list[str]:
    from defib.model import InvalidInput
    from defib.silences import parse_matchers

    try:
        parse_matchers(v)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from exc
    return v


Matchers = Annotated[list[str], AfterValidator(_matchers)]


class InhibitRuleConfig(Section):
    """Alertmanager's inhibit_rules: an open incident matching `source_matchers` keeps a new
    alert matching `target_matchers` (with equal values of the `equal` labels) quiet."""

    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class MaintenanceWindowConfig(Section):
    """A weekly window (UTC) during which matching alerts are silenced."""

    name: str = Field(min_length=1, max_length=100)
    matchers: Matchers = Field(default_factory=list)
    system: str | None = Field(default=None, description="Shorthand for matcher system=<name>.")
    days: list[str] = Field(min_length=1, description="mon ... sun, or daily.")
    start: str = Field(description="HH:MM, UTC.")
    duration: str = Field(description="e.g. 2h, 90m.")
    comment: str = ""

    @model_validator(mode="after")
    def _check(self) -> MaintenanceWindowConfig:
        from defib.model import InvalidInput

        if not self.matchers and self.system is None:
            raise ValueError("name matchers or a system")
        try:
            self.schedule()
        except InvalidInput as exc:
            raise ValueError(str(exc)) from exc
        return self

    def all_matchers(self) -> list[str]:
        return [*self.matchers, *([f"system={self.system}"] if self.system else [])]

    def schedule(self) -> Weekly:
        from defib.silences.schedule import Weekly, parse_days, parse_duration, parse_hhmm

        return Weekly(parse_days(self.days), parse_hhmm(self.start), parse_duration(self.duration))


class SilenceSettings(Section):
    """Who may keep alerts quiet, and for how long (docs/silences.md)."""

    max_duration_hours: float = Field(
        default=168, gt=0, description="Silences longer than this need an admin token."
    )
    tell_security_of_silenced_leaks: bool = Field(
        default=True,
        description="A data_leak alert kept quiet by a silence is still told to the security"
        " contacts (and recorded in the audit log). Only the config can turn it off.",
    )
