"""Loading settings: the YAML file, `DEFIB_*` environment variables and overrides, and
errors that name the key that is wrong.

Precedence, highest first: explicit keyword arguments, environment variables, the YAML
file (`--config` or `DEFIB_CONFIG`), defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict, YamlConfigSettingsSource

from defib.config.engine import EngineSettings
from defib.config.settings import Settings
from defib.config.target import ENV_PREFIX, ConfigError, home_override


def _with_file(path: Path) -> type[Settings]:
    """Settings that also read `path` (pydantic-settings' YAML source, below the env)."""
    config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": path})
    return type("Settings", (Settings,), {"model_config": config, "__module__": __name__})


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the YAML file, the environment and overrides; raise ConfigError."""
    path = config_file if config_file is not None else os.environ.get(f"{ENV_PREFIX}CONFIG")
    cls: type[Settings] = Settings
    if path:
        file = Path(path)
        try:
            with file.open(encoding="utf-8"):
                pass  # pydantic-settings skips a missing file silently; we must not
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror or exc}") from exc
        cls = _with_file(file)
        overrides = {"config": file, **overrides}
    home = home_override(os.environ, overrides.get("data_dir"))
    if home is not None:
        # DEFIB_HOME names the data directory (DEFIB_DATA_DIR, its older name, wins if set).
        overrides = {**overrides, "data_dir": home}
    engine_env = _engine_env()
    if engine_env and "engine" not in overrides:
        # DEFIB_ENGINE_<KEY> sets one key of the `engine:` section (over the file's).
        section = YamlConfigSettingsSource(cls)().get("engine") if path else None
        overrides = {
            **overrides,
            "engine": {**(section if isinstance(section, dict) else {}), **engine_env},
        }
    try:
        return cls(**{k: v for k, v in overrides.items() if v is not None})
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}{where}: not valid YAML") from exc
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(exc, source=str(path) if path else None)
        ) from exc
    except (AttributeError, TypeError, ValueError) as exc:
        # The YAML source expects a mapping at the top; a list or a scalar breaks it.
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys") from exc


def _engine_env() -> dict[str, str]:
    """`engine:` keys set by DEFIB_ENGINE_<KEY> variables; unknown names are refused."""
    prefix = f"{ENV_PREFIX}ENGINE_"
    known = {name.upper(): name for name in EngineSettings.model_fields}
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        if name.startswith(prefix):
            key = name[len(prefix) :]
            found[known.get(key, key.lower())] = value
    return found


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
