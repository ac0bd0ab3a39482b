"""The `defib` command line: one Typer app; each command group lives in its own module.

Command modules are imported only when their command runs (`defib --help` must stay fast:
importing the settings, pydantic and httpx alone costs about 300 ms). `COMMANDS` is the one
table of commands; its help line is what `defib --help` prints, so it must match the
command's own docstring in spirit.
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from defib.cli.output import EXIT_USAGE, CliError, print_error


@dataclass(frozen=True)
class Entry:
    """A top-level command: `module:attr` is a Typer app (a group) or a plain function."""

    target: str
    help: str


COMMANDS: dict[str, Entry] = {
    "serve": Entry("serve:serve", "Serve the API, the console and the gateway; run playbooks."),
    "init": Entry("init:init", "Write an example defib.yaml to start from."),
    "catch": Entry("catch:catch", "Print the notifications defib sends; serve the demo model."),
    "login": Entry("login:login", "Remember a server's URL and token for every later command."),
    "logout": Entry("login:logout", "Forget the remembered server and token."),
    "gateway": Entry("gateway:gateway", "Run the gateway on its own (in front of your models)."),
    "worker": Entry("worker:worker", "Run playbooks in a separate process."),
    "demo": Entry("demo:demo", "A self-contained demo: a leaking model, detected and rolled back."),
    "db": Entry("db:app", "Database schema: migrate and check."),
    "tokens": Entry("tokens:app", "API tokens: create, list, revoke."),
    "incidents": Entry("incidents:app", "List, show and change incidents."),
    "timeline": Entry("incidents:timeline", "An incident's timeline, oldest first."),
    "alert": Entry("incidents:alert_app", "Send a test alert."),
    "classify": Entry("classify:classify", "Classify alerts (JSON or JSONL) without storing them."),
    "detect": Entry("detect:app", "Run content detectors (PII and secrets, toxicity, grounding)."),
    "runs": Entry("runs:app", "Playbook runs: show, approve, reject, retry, cancel."),
    "approvals": Entry("runs:approvals", "Steps waiting for approval, across incidents."),
    "playbooks": Entry("playbooks:app", "Playbooks: list, show, check."),
    "systems": Entry("systems:app", "AI systems: state, versions, kill switch, filters."),
    "evidence": Entry("evidence:app", "Evidence: list, show, verify."),
    "silences": Entry("silences:app", "Silences and maintenance windows: add, list, expire."),
    "oncall": Entry("oncall:oncall", "Who is on call, the rotation ahead, overrides."),
    "report": Entry("review:report", "Response numbers: MTTA/MTTM/MTTR, top systems, reopens."),
    "postmortem": Entry("review:postmortem", "An incident's postmortem (md, html, json, AIID)."),
    "review": Entry("review:review", "Show or edit an incident's review fields and taxonomy."),
    "version": Entry("version:version", "Print the version."),
}


def load_command(name: str) -> Any:
    """The click command for one entry of COMMANDS (imports its module)."""
    entry = COMMANDS[name]
    module_name, attr = entry.target.split(":")
    target = getattr(importlib.import_module(f"defib.cli.{module_name}"), attr)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    _plain_help(command)
    return command


def _plain_help(command: Any) -> None:
    """Click's plain help for a command and its subcommands: words wrapped whole, values
    named the usual way (`TEXT`, `N`, `[SEV1|SEV2]`, no `<bool>` on flags), each
    subcommand's whole help line, and Rich (about 250 ms to import) unloaded for `--help`."""
    command.rich_markup_mode = None
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False) or param.metavar is not None:
            continue
        try:
            shown = str(param.display_type(None) or "")
        except Exception:  # Typer internals: keep its own metavar
            continue
        argument = not hasattr(param, "is_flag")
        param.metavar = metavar(shown, param.name or "", argument=argument)
        if argument:
            # Typer adds the type after an argument's name (`INCIDENT_ID <str>`): the name says it.
            param.display_type_rich = lambda ctx: None
    subs = getattr(command, "commands", None)
    if subs is not None:
        command.format_commands = functools.partial(_format_commands, command)
        for sub in subs.values():
            _plain_help(sub)


_METAVARS = {"str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER", "path": "PATH"}


def metavar(shown: str, name: str, *, argument: bool) -> str:
    """`<int range>` -> `N`, `<list[a|b]>` -> `[a|b]`, an argument -> its name in capitals."""
    if argument:
        return name.upper()
    inner = shown.strip("<>").removeprefix("list[").removesuffix("]")
    if "|" in inner:
        return f"[{inner}]"
    return _METAVARS.get(inner, inner.upper() or "VALUE")


def _format_commands(group: Any, ctx: Any, formatter: Any) -> None:
    """Each subcommand with its whole help line, wrapped at words (click cuts it at the
    terminal's width, often mid-sentence)."""
    rows = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        text = (sub.short_help or sub.help or "").strip().split("\n\n")[0]
        rows.append((name, " ".join(text.split())))
    if rows:
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class LazyGroup(TyperGroup):
    """A group whose subcommands are imported on first use, listed from COMMANDS."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, entry.help) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="defib: incident response for AI systems in production.",
)


@app.callback()
def _root() -> None:
    """defib: incident response for AI systems in production."""


def _usage_error(exc: BaseException) -> str | None:
    """Click's usage errors (Typer vendors click and exports no public type for them): they
    carry `exit_code` 2 and a `format_message()`; we print them as one line like our own."""
    fmt = getattr(exc, "format_message", None)
    if getattr(exc, "exit_code", None) != EXIT_USAGE or not callable(fmt):
        return None
    message = str(fmt())
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None)
    return message + (f" (see `{path} --help`)" if path else "")


def _is_config_error(exc: BaseException) -> bool:
    # Settings are imported lazily; if they never were, no ConfigError can have been raised.
    config = sys.modules.get("defib.config")
    return config is not None and isinstance(exc, config.ConfigError)


def main() -> None:
    """Run the CLI: usage and domain errors print one line on stderr and exit 2."""
    try:
        code = app(standalone_mode=False)
    except CliError as exc:
        print_error(str(exc))
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        print_error("aborted")
        sys.exit(1)
    except Exception as exc:
        if _is_config_error(exc):
            print_error(str(exc))
            sys.exit(EXIT_USAGE)
        if type(exc).__name__ == "NoArgsIsHelpError":
            # Help was printed already (a group called without a subcommand).
            sys.exit(0)
        message = _usage_error(exc)
        if message is None:
            raise
        print_error(message)
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else 0)
