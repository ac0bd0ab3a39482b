"""The `intake:` and `storm:` sections: how alerts fold into incidents, and the limits that
keep one sender from opening thousands of them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from defib.config.fields import Section


class IntakeSettings(Section):
    """How alerts fold into incidents."""

    fold: dict[str, Literal["grouped", "exact"]] = Field(
        default_factory=dict,
        description="Per alert format (alertmanager, grafana, pagerduty, native) or source"
        " name: `grouped` (default) folds alerts whose identities differ only in numbers and"
        " ids into one incident; `exact` keeps one incident per exact identity (PagerDuty's"
        " one dedup_key, one incident).",
    )

    @property
    def exact(self) -> frozenset[str]:
        return frozenset(k for k, v in self.fold.items() if v == "exact")


class StormSettings(Section):
    """Limits that keep one sender from opening thousands of incidents (Alertmanager's
    grouping is the model): past them, new alerts fold into one storm incident per source.
    Counted per process (each replica has its own minute)."""

    max_alerts_per_request: int = Field(
        default=1000, ge=1, description="Firing alerts of one request correlated one by one."
    )
    max_new_incidents_per_request: int = Field(default=100, ge=1)
    max_new_incidents_per_source_per_minute: int = Field(
        default=600, ge=1, description="Per sender (token name) and minute."
    )
    playbook_runs_per_system_per_minute: int = Field(
        default=20, ge=1, description="Runs planned for alert-raised incidents of one system."
    )
