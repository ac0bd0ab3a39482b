"""`defib detect`: run content detectors over JSONL, one output line per input line, in order.

A Typer front for `defib.detectors._jsonl`; `defib.cli.detect` re-exports `app` for the
top-level CLI, and `python -m defib.detectors` offers the same commands without Typer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from defib.detectors import _jsonl

app = typer.Typer(
    name="detect",
    no_args_is_help=True,
    add_completion=False,
    help="Run content detectors (PII and secrets, toxicity, grounding) over JSONL.",
)

FileArg = Annotated[str, typer.Argument(help="JSONL input file, or - for stdin.")]
MinScore = Annotated[float, typer.Option(help="Drop findings scored below this.")]


def _call(fn: Callable[[], None]) -> None:
    try:
        fn()
    except _jsonl.Failed as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(e.code) from None


@app.command()
def pii(
    file: FileArg = "-",
    types: Annotated[
        str | None, typer.Option("--types", help="Comma-separated subset, e.g. EMAIL,PHONE.")
    ] = None,
    min_score: MinScore = 0.5,
) -> None:
    """PII and secrets: {"id","text"} in, {"id","findings":[{type,start,end,text}]} out."""
    _call(lambda: _jsonl.run_pii(file, _jsonl.parse_types(types), min_score))


@app.command()
def toxicity(
    file: FileArg = "-",
    backend: Annotated[str, typer.Option(help="model, lexicon or profanity-check.")] = "model",
    min_score: MinScore = 0.5,
) -> None:
    """Toxic language: {"id","text"} in, {"id","toxic","findings":[...]} out."""
    _call(lambda: _jsonl.run_toxicity(file, backend, min_score))


@app.command()
def grounding(file: FileArg = "-", min_score: MinScore = 0.5) -> None:
    """Unsupported claims: {"id","response","context"} in, {"id","support","findings"} out."""
    _call(lambda: _jsonl.run_grounding(file, min_score))
