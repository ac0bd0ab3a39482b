"""`defib worker`: run playbooks (no API); several may share one PostgreSQL."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from defib.cli.common import ConfigOption, settings_or_exit
from defib.cli.output import console


def worker(
    config: ConfigOption = None,
    executor_id: Annotated[
        str | None,
        typer.Option(
            "--executor-id",
            envvar="DEFIB_EXECUTOR_ID",
            help="Distinct per worker (default: local on SQLite, host-pid-random on PostgreSQL).",
        ),
    ] = None,
) -> None:
    """Run playbook runs until SIGTERM or Ctrl-C (migrates the database first)."""
    from defib.bootstrap import Runtime
    from defib.playbooks.engine.worker import Worker

    settings = settings_or_exit(config)
    runtime = Runtime(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    running = Worker(runtime.engine, executor_id).start()
    db_kind = "SQLite" if runtime.db.is_sqlite else "PostgreSQL"
    console.print(f"defib worker {running.executor_id} ready ({db_kind})")
    try:
        stop.wait()
    finally:
        running.stop()
        runtime.close()
