"""Typed settings: one YAML file plus `DEFIB_*` environment variables.

Precedence, highest first: explicit keyword arguments, environment variables, the YAML
file (`--config` or `DEFIB_CONFIG`), defaults. Every error names the key that is wrong.

One module per section of defib.yaml; importers use this package's names
(`from defib.config import Settings, load_settings`), which stay where they were:

- `fields`: the value checks (`Email`, `HttpUrl`, `EnvName`) and the base `Section`;
- `settings`: `Settings`, the top-level keys (data directory, database, API, console);
- `loading`: `load_settings` (the file, `DEFIB_*` variables, overrides) and its errors;
- `systems`, `gateway`, `notifications`, `engine`, `intake`, `silences`, `evidence`:
  the sections of those names (`notifications` also holds `slack:`);
- `target`: the few keys a CLI client command needs (`read_target`), read without pydantic.

Each name is imported from its module on first use (PEP 562): `defib.config.target` is
imported by the CLI's client commands, which must not pay for pydantic-settings and the
sections (about 260 ms) through this package's `__init__`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        ModelPrice,
        UsageSloConfig,
    )
    from defib.config.intake import IntakeSettings, StormSettings
    from defib.config.loading import describe_validation_error, load_settings
    from defib.config.notifications import (
        AffectedUsersDirectory,
        NotificationSettings,
        PagerDutySettings,
        RetrySettings,
        SlackAppSettings,
        SlackUser,
        SmtpSettings,
    )
    from defib.config.settings import MetricsSettings, Settings, normalise_database_url
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
        VerificationConfig,
        WebhookTarget,
    )
    from defib.config.target import ENV_PREFIX, ClientTarget, ConfigError

# Where each name lives: its module is imported when the name is first looked up.
_WHERE: dict[str, str] = {
    **dict.fromkeys(["EngineSettings"], "engine"),
    **dict.fromkeys(["CheckpointMirror", "EvidenceAnchorSettings", "S3Target"], "evidence"),
    **dict.fromkeys(
        ["Email", "EnvName", "HttpUrl", "Section", "_email", "_env_name", "_http_url"], "fields"
    ),
    **dict.fromkeys(
        [
            "CaptureConfig",
            "CorroborationSettings",
            "GatewaySettings",
            "GatewaySloConfig",
            "GatewaySystemConfig",
            "INLINE_DETECTORS",
            "InlineDetector",
            "ModelPrice",
            "UsageSloConfig",
        ],
        "gateway",
    ),
    **dict.fromkeys(["IntakeSettings", "StormSettings"], "intake"),
    **dict.fromkeys(["describe_validation_error", "load_settings"], "loading"),
    **dict.fromkeys(
        [
            "AffectedUsersDirectory",
            "NotificationSettings",
            "PagerDutySettings",
            "RetrySettings",
            "SlackAppSettings",
            "SlackUser",
            "SmtpSettings",
        ],
        "notifications",
    ),
    **dict.fromkeys(["MetricsSettings", "Settings", "normalise_database_url"], "settings"),
    **dict.fromkeys(
        ["InhibitRuleConfig", "MaintenanceWindowConfig", "Matchers", "SilenceSettings"], "silences"
    ),
    **dict.fromkeys(
        [
            "ControlConfig",
            "ModelVersionConfig",
            "Owners",
            "ProbeConfig",
            "RegistryConfig",
            "SystemConfig",
            "VerificationConfig",
            "WebhookTarget",
        ],
        "systems",
    ),
    **dict.fromkeys(["ClientTarget", "ConfigError", "ENV_PREFIX"], "target"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "ENV_PREFIX",
    "INLINE_DETECTORS",
    "AffectedUsersDirectory",
    "CaptureConfig",
    "CheckpointMirror",
    "ClientTarget",
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
    "ModelPrice",
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
    "UsageSloConfig",
    "VerificationConfig",
    "WebhookTarget",
    "describe_validation_error",
    "load_settings",
    "normalise_database_url",
]
