"""Typed settings: one YAML file plus `DEFIB_*` environment variables.

Precedence, highest first: explicit keyword arguments, environment variables, the YAML
file (`--config` or `DEFIB_CONFIG`), defaults. Every error names the key that is wrong.

One module per section of defib.yaml; importers use this package's names
(`from defib.config import Settings, load_settings`), which stay where they were:

- `fields`: the value checks (`Email`, `HttpUrl`, `EnvName`) and the base `Section`;
- `settings`: `Settings`, the top-level keys (data directory, database, API, console);
- `loading`: `load_settings` (the file, `DEFIB_*` variables, overrides) and its errors;
- `systems`, `gateway`, `notifications`, `engine`, `intake`, `silences`, `evidence`:
  the sections of those names (`notifications` also holds `slack:`).
"""

from defib.config.engine import EngineSettings
from defib.config.evidence import CheckpointMirror, EvidenceAnchorSettings, S3Target
from defib.config.fields import Email, EnvName, HttpUrl, Section
from defib.config.fields import _email as _email
from defib.config.fields import _env_name as _env_name
from defib.config.fields import _http_url as _http_url
from defib.config.gateway import (
    INLINE_DETECTORS,
    CaptureConfig,
    CorroborationSettings,
    GatewaySettings,
    GatewaySloConfig,
    GatewaySystemConfig,
    InlineDetector,
)
from defib.config.intake import IntakeSettings, StormSettings
from defib.config.loading import ConfigError, describe_validation_error, load_settings
from defib.config.notifications import (
    AffectedUsersDirectory,
    NotificationSettings,
    PagerDutySettings,
    RetrySettings,
    SlackAppSettings,
    SlackUser,
    SmtpSettings,
)
from defib.config.settings import ENV_PREFIX, MetricsSettings, Settings, normalise_database_url
from defib.config.silences import (
    InhibitRuleConfig,
    MaintenanceWindowConfig,
    Matchers,
    SilenceSettings,
)
from defib.config.systems import (
    ControlConfig,
    ModelVersionConfig,
    Owners,
    ProbeConfig,
    RegistryConfig,
    SystemConfig,
    WebhookTarget,
)

__all__ = [
    "ENV_PREFIX",
    "INLINE_DETECTORS",
    "AffectedUsersDirectory",
    "CaptureConfig",
    "CheckpointMirror",
    "ConfigError",
    "ControlConfig",
    "CorroborationSettings",
    "Email",
    "EngineSettings",
    "EnvName",
    "EvidenceAnchorSettings",
    "GatewaySettings",
    "GatewaySloConfig",
    "GatewaySystemConfig",
    "HttpUrl",
    "InhibitRuleConfig",
    "InlineDetector",
    "IntakeSettings",
    "MaintenanceWindowConfig",
    "Matchers",
    "MetricsSettings",
    "ModelVersionConfig",
    "NotificationSettings",
    "Owners",
    "PagerDutySettings",
    "ProbeConfig",
    "RegistryConfig",
    "RetrySettings",
    "S3Target",
    "Section",
    "Settings",
    "SilenceSettings",
    "SlackAppSettings",
    "SlackUser",
    "SmtpSettings",
    "StormSettings",
    "SystemConfig",
    "WebhookTarget",
    "describe_validation_error",
    "load_settings",
    "normalise_database_url",
]
