"""How the CLI talks to people and scripts: Rich tables, --json, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

if TYPE_CHECKING:
    from rich.console import Console

EXIT_USAGE = 2


class _LazyConsole:
    """Rich's console, made on first use: importing Rich costs about 150 ms that `--help`
    and `--json` never need."""

    _made: Console | None = None

    def _console(self) -> Console:
        if self._made is None:
            from rich.console import Console

            # Piped output (scripts, tests, `| grep`) gets wide tables, not an 80-column fold.
            width = None if sys.stdout.isatty() else 200
            type(self)._made = Console(highlight=False, soft_wrap=True, width=width)
        assert self._made is not None
        return self._made

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)


console: Any = _LazyConsole()


def rich_console() -> Console:
    """The real Rich console, for Rich objects that use it as a context manager (`Live`):
    special methods are not looked up through `__getattr__`."""
    made: Console = console._console()
    return made


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


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str | None = None,
) -> None:
    """A table; with `empty`, that sentence instead of a table with no rows."""
    rows = list(rows)
    if not rows and empty is not None:
        console.print(empty)
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
