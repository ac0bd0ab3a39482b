"""How the CLI talks to people and scripts: Rich tables, --json, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import orjson
from rich.console import Console
from rich.table import Table

EXIT_USAGE = 2

# Piped output (scripts, tests, `| grep`) gets wide tables instead of Rich's 80-column fold.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


class CliError(Exception):
    """An error to print as one line on stderr, exiting with status 2."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def print_error(message: str) -> None:
    first = " ".join(message.split())
    sys.stderr.write(f"defib: error: {first}\n")
    sys.stderr.flush()


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
