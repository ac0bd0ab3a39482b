"""Where the CLI's client finds the server: `url`, `token`, `host`, `port` and `data_dir`,
read from the same places as `Settings` without building the whole configuration.

Precedence, as `Settings` has it, highest first: explicit keyword arguments (`DEFIB_HOME`
is one, see `home_override`), `DEFIB_*` environment variables (names in any case, as
pydantic-settings reads them), the YAML file (`--config` or `DEFIB_CONFIG`), defaults.

`Settings` and `load_settings` take `ENV_PREFIX`, the defaults, `home_override`,
`local_url` and `ADMIN_TOKEN_FILE` from here, so the two readings cannot drift; a test
compares them. Only the five keys are checked: the rest of the file is the server's, and
`defib serve` refuses it whole if a key is wrong. This module imports no pydantic (about
260 ms with the sections): `defib incidents list` must answer in under 500 ms.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "DEFIB_"
DEFAULT_DATA_DIR = Path(".defib")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
ADMIN_TOKEN_FILE = "admin-token"


class ConfigError(Exception):
    """The configuration is invalid; the message names the key."""


def home_override(environ: Mapping[str, str], data_dir: object) -> str | None:
    """The data directory `DEFIB_HOME` names, as an explicit value (over the file): unless
    `DEFIB_DATA_DIR` (its older name) is set or the caller passed `data_dir` itself."""
    home = environ.get(f"{ENV_PREFIX}HOME")
    if home and f"{ENV_PREFIX}DATA_DIR" not in environ and data_dir is None:
        return home
    return None


def absolute_data_dir(path: Path) -> Path:
    # Resolved once at start, so the printed path and a later chdir agree.
    return path.expanduser().absolute()


def local_url(host: str, port: int) -> str:
    """Where this machine's own `defib serve` answers, from `host` and `port`."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass(frozen=True)
class ClientTarget:
    """The keys of the configuration a client command needs (a `Settings` has the same)."""

    url: str | None
    token: str | None
    host: str
    port: int
    data_dir: Path

    @property
    def local_url(self) -> str:
        return local_url(self.host, self.port)

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / ADMIN_TOKEN_FILE


def read_target(
    config_file: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> ClientTarget:
    """`url`, `token`, `host`, `port` and `data_dir` as `load_settings` would read them."""
    env = os.environ if environ is None else environ
    path = config_file if config_file is not None else env.get(f"{ENV_PREFIX}CONFIG")
    source = str(path) if path else None
    values: dict[str, Any] = _read_file(str(path)) if path else {}
    # pydantic-settings matches variable names in any case (`case_sensitive` is off).
    variables = {k.lower(): v for k, v in env.items()}
    for key in ("url", "token", "host", "port", "data_dir"):
        name = f"{ENV_PREFIX}{key}".lower()
        if name in variables:
            values[key] = variables[name]
    home = home_override(env, None)
    if home is not None:
        values["data_dir"] = home
    host = _text(values, "host", source)
    data_dir = _text(values, "data_dir", source)
    return ClientTarget(
        url=_text(values, "url", source),
        token=_text(values, "token", source),
        host=DEFAULT_HOST if host is None else host,
        port=_port(values.get("port", DEFAULT_PORT), source),
        data_dir=absolute_data_dir(DEFAULT_DATA_DIR if data_dir is None else Path(data_dir)),
    )


def _read_file(path: str) -> dict[str, Any]:
    """The YAML file's top-level keys; errors worded as `load_settings` words them."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from exc
    import yaml  # only with a file: about 10 ms

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}{where}: not valid YAML") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys")
    return data


def _invalid(key: str, message: str, source: str | None) -> ConfigError:
    where = f" in {source}" if source else ""
    return ConfigError(f"invalid configuration{where}: {key}: {message}")


def _text(values: Mapping[str, Any], key: str, source: str | None) -> str | None:
    value = values.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _invalid(key, "Input should be a valid string", source)


def _port(value: Any, source: str | None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise _invalid(
                "port",
                "Input should be a valid integer, unable to parse string as an integer",
                source,
            ) from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid("port", "Input should be a valid integer", source)
    if value < 1:
        raise _invalid("port", "Input should be greater than or equal to 1", source)
    if value > 65535:
        raise _invalid("port", "Input should be less than or equal to 65535", source)
    return value
