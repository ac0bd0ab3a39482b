"""Typed settings: one YAML file plus `DEFIB_*` environment variables.

`Settings` is the whole file: the top-level keys (data directory, database, the API's
host, port and tokens, the console's session secret, /metrics) and one field per section,
each section in its own module of this package. Precedence, highest first: explicit keyword
arguments, environment variables, the YAML file (`--config` or `DEFIB_CONFIG`), defaults.
Every error names the key that is wrong; `defib.config.loading` builds and checks them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from defib.config.engine import EngineSettings
from defib.config.evidence import EvidenceAnchorSettings
from defib.config.fields import Section
from defib.config.gateway import GatewaySettings
from defib.config.intake import IntakeSettings, StormSettings
from defib.config.notifications import NotificationSettings, SlackAppSettings
from defib.config.silences import InhibitRuleConfig, MaintenanceWindowConfig, SilenceSettings
from defib.config.systems import Owners, SystemConfig
from defib.config.target import (
    ADMIN_TOKEN_FILE,
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ENV_PREFIX,
    absolute_data_dir,
    local_url,
)
from defib.oncall.config import (
    EscalationPolicyConfig,
    PersonConfig,
    ScheduleConfig,
    check_references,
)


class MetricsSettings(Section):
    """GET /metrics: who may scrape it and how fresh the database-derived series are."""

    public: bool = Field(
        default=False,
        description="Serve /metrics without a token (otherwise a viewer token is needed).",
    )
    cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Database-derived series are read at most once per this many seconds.",
    )


class Settings(BaseSettings):
    """Everything defib reads at start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Where SQLite, tokens and evidence live (also `DEFIB_HOME`); made absolute.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/defib.db."
    )
    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    url: str | None = Field(
        default=None,
        description="Base URL the CLI talks to (default: `defib login`'s, else host and port).",
    )
    token: str | None = Field(default=None, description="Bearer token the CLI sends.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    reopen_window_seconds: int = Field(
        default=1800, ge=0, description="A new alert this soon after resolution reopens."
    )
    playbooks_dir: Path | None = Field(
        default=None,
        description="Directory of playbook YAML files that add to or replace the built-ins.",
    )
    rules_file: Path | None = Field(
        default=None, description="Classification rules (YAML) tried before the built-in ones."
    )
    log_level: str = "info"
    systems: list[SystemConfig] = Field(
        default_factory=list, description="The AI systems defib protects and their owners."
    )
    default_owners: Owners | None = Field(
        default=None,
        description="Who hears about what no system's owners cover: incidents of systems not"
        " under systems:, incidents naming no system, systems whose owners configure no"
        " channel. Same shape as a system's owners.",
    )
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    # On call (docs/oncall.md); the classes live in defib.oncall.config.
    people: list[PersonConfig] = Field(default_factory=list)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicyConfig] = Field(default_factory=list)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    storm: StormSettings = Field(default_factory=StormSettings)
    silences: SilenceSettings = Field(default_factory=SilenceSettings)
    evidence_anchor: EvidenceAnchorSettings = Field(default_factory=EvidenceAnchorSettings)
    public_url: str | None = Field(
        default=None,
        description="Base of every incident link defib sends (Slack, e-mail, PagerDuty):"
        " {public_url}/incidents/INC-n, the console page (default: url).",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Signs console sessions (default: generated in <data_dir>/session-secret).",
    )
    inhibit_rules: list[InhibitRuleConfig] | None = Field(
        default=None,
        description="Inhibition rules; default: an open availability incident of a system"
        " inhibits that system's performance alerts. [] turns inhibition off.",
    )
    maintenance_windows: list[MaintenanceWindowConfig] = Field(
        default_factory=list, description="Weekly silences (UTC)."
    )
    slack: SlackAppSettings = Field(default_factory=SlackAppSettings)
    config: Path | None = Field(default=None, description="The YAML file these came from.")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        allowed = {"critical", "error", "warning", "info", "debug"}
        if v.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(sorted(allowed))}")
        return v.lower()

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql:// (psycopg 3 is used)")
        return v

    @field_validator("systems")
    @classmethod
    def _unique_systems(cls, v: list[SystemConfig]) -> list[SystemConfig]:
        seen: dict[str, int] = {}
        for i, system in enumerate(v):
            if system.name in seen:
                raise PydanticCustomError(
                    "duplicate_system",
                    "'{name}' is named twice (systems.{first}.name and systems.{second}.name)",
                    {"name": system.name, "first": seen[system.name], "second": i},
                )
            seen[system.name] = i
        return v

    @model_validator(mode="after")
    def _oncall_references(self) -> Settings:
        check_references(self)
        return self

    def system(self, name: str) -> SystemConfig | None:
        return next((s for s in self.systems if s.name == name), None)

    @property
    def reaches_nobody(self) -> bool:
        """No owner anywhere has a channel or an escalation policy: every notification step
        would be skipped."""
        owners = [s.owners for s in self.systems]
        if self.default_owners is not None:
            owners.append(self.default_owners)
        return not self.notifications.security_contacts and not any(
            o.slack_webhook
            or o.emails
            or o.pagerduty_routing_key
            or o.webhooks
            or o.security_contacts
            or o.escalation_policy  # pages the people on call (validated to exist)
            for o in owners
        )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return absolute_data_dir(v)

    @property
    def local_url(self) -> str:
        """Where this machine's own `defib serve` answers, from `host` and `port`."""
        return local_url(self.host, self.port)

    def incident_link(self, incident_id: str) -> str:
        """Where people open an incident: its console page (Slack, e-mail, PagerDuty links)."""
        base = self.public_url or self.url or self.local_url
        return f"{base.rstrip('/')}/incidents/{incident_id}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'defib.db'}"

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / ADMIN_TOKEN_FILE

    @property
    def session_secret_path(self) -> Path:
        return self.data_dir / "session-secret"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: keyword arguments, DEFIB_* variables, the YAML file (when
        # load_settings names one), defaults.
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
