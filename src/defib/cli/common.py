"""Options shared by commands, and loading settings with CLI-grade errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from defib.cli.output import fail

if TYPE_CHECKING:
    from defib.config import Settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML config file (default: $DEFIB_CONFIG).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    # Imported here: the settings (pydantic-settings) cost about 300 ms, and `--help` of a
    # command never loads them.
    from defib.config import ConfigError, load_settings

    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(str(exc))
