"""`defib playbooks`: list, show and validate playbooks, and print their JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from defib.cli.common import JsonOption
from defib.cli.output import EXIT_USAGE, print_error, print_json, print_table
from defib.playbooks.loader import PlaybookSet, check_paths
from defib.playbooks.spec import (
    BUILTIN_ACTIONS,
    SCHEMA_PATH,
    Playbook,
    PlaybookErrors,
    Step,
    render_schema,
)

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Inspect and validate incident playbooks."
)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        envvar="DEFIB_PLAYBOOKS_DIR",
        help="Directory of user playbooks overriding the built-ins.",
        show_default=False,
    ),
]


def _load(directory: Path | None) -> PlaybookSet:
    try:
        return PlaybookSet.load(directory)
    except PlaybookErrors as exc:
        # One line per error (not `fail`, which prints a single line), then the usual exit 2.
        for error in exc.errors:
            print_error(str(error))
        raise typer.Exit(EXIT_USAGE) from None


def _applies_to(pb: Playbook) -> list[str]:
    return [str(t) for t in pb.applies_to] or (["*"] if pb.is_generic else [])


def _approval_text(step: Step) -> str:
    a = step.approval
    if not a.required:
        return ""
    return f"{a.role}, {_duration(a.timeout_seconds)}, then {a.on_timeout}"


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


@app.command("list")
def list_playbooks(directory: DirOption = None, as_json: JsonOption = False) -> None:
    """List the effective playbooks (built-ins overlaid with --dir)."""
    playbooks = _load(directory)
    rows: list[dict[str, Any]] = [
        {
            "name": pb.name,
            "version": pb.version,
            "applies_to": _applies_to(pb),
            "steps": len(pb.steps),
            "origin": playbooks.origin(pb.name),
            "source": playbooks.source(pb.name),
        }
        for pb in sorted(playbooks, key=lambda p: p.name)
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        None,
        ["name", "version", "applies_to", "steps", "origin"],
        (
            [r["name"], r["version"], ", ".join(r["applies_to"]), r["steps"], r["origin"]]
            for r in rows
        ),
    )


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Playbook name.")],
    directory: DirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one playbook's steps; --json prints the frozen form a run stores."""
    playbooks = _load(directory)
    try:
        pb = playbooks.get(name)
    except KeyError:
        known = ", ".join(sorted(p.name for p in playbooks))
        print_error(f"no playbook {name!r} (known: {known})")
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        print_json(pb.freeze())
        return
    # A list, not a table: eight columns do not fit an 80-column terminal.
    typer.echo(f"{pb.name} v{pb.version} ({playbooks.origin(pb.name)})")
    if pb.description:
        typer.echo(pb.description)
    typer.echo(f"applies to: {', '.join(_applies_to(pb))}")
    for i, step in enumerate(pb.steps, start=1):
        typer.echo(
            f"{i:>3}. {step.name}  action={step.action}  timeout={_duration(step.timeout_seconds)}"
            f"  retries={step.retries.count}  on_failure={step.on_failure}"
        )
        if step.when is not None:
            typer.echo(f"       when: {step.when}")
        if step.approval.required:
            typer.echo(f"       approval: {_approval_text(step)}")


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Playbook files or directories.")],
) -> None:
    """Check playbook files; print OK per file or one error per line; exit 2 if any fail."""
    failed = False
    for file, errors in check_paths(paths, BUILTIN_ACTIONS):
        if not errors:
            typer.echo(f"OK {file}")
            continue
        failed = True
        for error in errors:
            typer.echo(str(error))
    if failed:
        raise typer.Exit(EXIT_USAGE)


@app.command()
def schema(
    write: Annotated[
        bool, typer.Option("--write", help=f"Write it to {SCHEMA_PATH.name} in the package.")
    ] = False,
) -> None:
    """Print the JSON Schema of the playbook format (generated from the models)."""
    text = render_schema()
    if write:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {SCHEMA_PATH}")
    else:
        typer.echo(text, nl=False)


if __name__ == "__main__":
    app()
