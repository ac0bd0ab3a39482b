"""Typed settings: one YAML file plus `DEFIB_*` environment variables.

Precedence, highest first: explicit keyword arguments, environment variables, the YAML
file (`--config` or `DEFIB_CONFIG`), defaults. Every error names the key that is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "DEFIB_"


class ConfigError(Exception):
    """The configuration is invalid; the message names the key."""


class Settings(BaseSettings):
    """Everything defib reads at start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    data_dir: Path = Field(
        default=Path(".defib"), description="Where SQLite, tokens and evidence live."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/defib.db."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    url: str = Field(default="http://127.0.0.1:8000", description="Base URL the CLI talks to.")
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

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'defib.db'}"

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / "admin-token"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}{where}: not valid YAML") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys")
    return {str(k): v for k, v in data.items()}


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the YAML file, the environment and overrides; raise ConfigError."""
    path = config_file if config_file is not None else os.environ.get(f"{ENV_PREFIX}CONFIG")
    file_values: dict[str, Any] = {}
    if path:
        file_values = _read_yaml(Path(path))
        file_values["config"] = Path(path)
    env_keys = {
        name for name in Settings.model_fields if f"{ENV_PREFIX}{name.upper()}" in os.environ
    }
    # The environment beats the file: drop file keys the environment sets.
    merged = {k: v for k, v in file_values.items() if k not in env_keys}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(exc, source=str(path) if path else None)
        ) from exc


def describe_validation_error(exc: ValidationError, source: str | None = None) -> str:
    """One line per problem, each naming the key (as `a.b.c`) and what is wrong."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{key}: {msg}")
    where = f" in {source}" if source else ""
    return f"invalid configuration{where}: " + "; ".join(parts)
