"""The `defib` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer

# Typer >= 0.29 vendors click and exports no public exception types (pinned in pyproject).
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from defib.cli import (
    classify,
    db,
    demo,
    detect,
    evidence,
    gateway,
    incidents,
    playbooks,
    runs,
    serve,
    systems,
    tokens,
    worker,
)
from defib.cli.output import EXIT_USAGE, CliError, print_error
from defib.config import ConfigError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="defib: incident response for AI systems in production.",
)
app.command("serve")(serve.serve)
app.command("gateway")(gateway.gateway)
app.command("demo")(demo.demo)
app.add_typer(db.app, name="db")
app.add_typer(tokens.app, name="tokens")
app.add_typer(incidents.app, name="incidents")
app.command("timeline")(incidents.timeline)
app.add_typer(incidents.alert_app, name="alert")
app.command("classify")(classify.classify)
app.add_typer(detect.app, name="detect")
app.add_typer(runs.app, name="runs")
app.add_typer(playbooks.app, name="playbooks")
app.command("worker")(worker.worker)
app.add_typer(systems.app, name="systems")
app.add_typer(evidence.app, name="evidence")


@app.command()
def version() -> None:
    """Print the version."""
    from defib import __version__

    print(__version__)


def main() -> None:
    """Run the CLI: usage and domain errors print one line on stderr and exit 2."""
    try:
        code = app(standalone_mode=False)
    except (CliError, ConfigError) as exc:
        print_error(str(exc))
        sys.exit(EXIT_USAGE)
    except NoArgsIsHelpError:
        sys.exit(0)
    except UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        print_error(exc.format_message() + hint)
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        print_error("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
