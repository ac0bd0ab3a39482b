"""`defib serve`: the API on one port, with the embedded SQLite default."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from defib.cli.common import ConfigOption, settings_or_exit
from defib.cli.output import console, fail


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option("--insecure-no-auth", help="Turn auth off. Refused unless bound to loopback."),
    ] = False,
    no_worker: Annotated[
        bool,
        typer.Option("--no-worker", help="Serve the API only; `defib worker` runs the playbooks."),
    ] = False,
) -> None:
    """Serve the REST API and run playbooks (migrates the database first)."""
    import uvicorn

    from defib.api import create_app
    from defib.bootstrap import Runtime

    settings = settings_or_exit(config, host=host, port=port)
    if insecure_no_auth and not is_loopback(settings.host):
        fail(f"--insecure-no-auth is refused on {settings.host}: bind to 127.0.0.1 or ::1")
    runtime = Runtime(settings)
    if not insecure_no_auth:
        created = runtime.ensure_admin_token()
        if created is not None:
            console.print(f"[bold]Created the first admin token[/bold] in {created} (mode 0600).")
    else:
        console.print("[bold red]Auth is OFF[/bold red] (--insecure-no-auth): loopback only.")
    db_kind = "SQLite" if runtime.db.is_sqlite else "PostgreSQL"
    console.print(f"defib serving on http://{settings.host}:{settings.port} ({db_kind})")
    app = create_app(runtime, auth=not insecure_no_auth, own_runtime=True)
    embedded = None
    if not no_worker:
        from defib.worker import Worker

        embedded = Worker(runtime.engine).start()
        console.print(f"playbook worker {embedded.executor_id} running in this process")
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
        )
    finally:
        if embedded is not None:
            embedded.stop()
