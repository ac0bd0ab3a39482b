"""`defib init`: write an example defib.yaml to start from (never over an existing file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from defib.cli.catch import CATCH_PORT, MODEL_PORT
from defib.cli.output import console, fail


def example_config(catch_port: int = CATCH_PORT, model_port: int = MODEL_PORT) -> str:
    from importlib.resources import files

    text = files("defib.examples").joinpath("defib.yaml").read_text(encoding="utf-8")
    return text.replace("__CATCH_PORT__", str(catch_port)).replace(
        "__MODEL_PORT__", str(model_port)
    )


def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("defib.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    catch_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of `defib catch`'s catcher.")
    ] = CATCH_PORT,
    model_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of `defib catch`'s demo model.")
    ] = MODEL_PORT,
) -> None:
    """Write an example defib.yaml: one system behind the gateway, two versions, probes,
    and notifications to the local catcher that `defib catch` runs."""
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    text = example_config(catch_port, model_port)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    from defib.config import load_settings

    load_settings(path)  # what we ship must load; a ConfigError here is our bug, said loudly
    console.print(f"wrote {path}: support-bot behind the gateway, v1 good / v2 leaky, probes.")
    console.print(
        "Next: `defib catch` in one terminal, `defib serve --config "
        f"{path}` (or `make run`) in another; the README's tour goes on from there.",
        markup=False,
    )
