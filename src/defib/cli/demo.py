"""`defib demo`: leak in live traffic → incident → contained, rolled back, verified."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from defib.cli.output import console, rich_console


def demo(
    timeout: Annotated[
        float, typer.Option(min=5, help="Give up if not mitigated after this many seconds.")
    ] = 120.0,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the demo's database and evidence here (default: a temp dir)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep serving afterwards, to look around the console.")
    ] = False,
) -> None:
    """Run the whole loop on this machine with a demo model, and show it live."""
    from defib.demo.tour import run

    if not run(rich_console(), data_dir=data_dir, timeout=timeout, keep=keep):
        console.print(f"[red]The incident was not mitigated within {timeout:g} s.[/red]")
        raise typer.Exit(1)
    console.print("[green]Contained, rolled back and verified.[/green]")
