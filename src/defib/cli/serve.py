"""`defib serve`: the API on one port, the gateway on another, with the embedded SQLite default."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from defib.cli.common import ConfigOption, settings_or_exit
from defib.cli.output import console, fail

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from defib.bootstrap import Runtime
    from defib.gateway.server import ThreadedServer


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """Take the API's port before anything else happens, so a clash is one clear line and
    no database or token was created for nothing; uvicorn serves on this very socket."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"--host: cannot resolve {host!r}: {exc.strerror}")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (another `defib serve`? "
            "choose a port with --port or DEFIB_PORT)"
        )
    if family in (socket.AF_INET, socket.AF_INET6):
        # Accepted connections inherit it (Linux): an answer's body is not held back until
        # the client ACKs its headers, which a client delays by up to 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.set_inheritable(True)
    return sock


def run_server(app: ASGIApp, listener: socket.socket, log_level: str) -> None:
    """Serve `app` on the bound socket until a signal stops uvicorn; exit 3 as `uvicorn.run`
    does when it could not start."""
    import uvicorn

    # The socket object itself, not `fd=`: uvicorn wraps a bare fd as a Unix socket, so the
    # event loop never set TCP_NODELAY on connections and every answer waited ~40 ms for
    # the client's delayed ACK (20 requests/s on one connection; issue 15).
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])
    if not server.started:
        raise SystemExit(3)


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
    no_gateway: Annotated[
        bool,
        typer.Option("--no-gateway", help="Do not run the gateway (`defib gateway` runs it)."),
    ] = False,
    gateway_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="The embedded gateway's port (default 8001)."),
    ] = None,
) -> None:
    """Serve the REST API and the gateway, and run playbooks (migrates the database first)."""
    from defib.api import create_app
    from defib.bootstrap import Runtime

    settings = settings_or_exit(config, host=host, port=port)
    if gateway_port is not None:
        from defib.cli.gateway import with_gateway_address

        settings = with_gateway_address(settings, None, gateway_port)
    if insecure_no_auth and not is_loopback(settings.host):
        fail(f"--insecure-no-auth is refused on {settings.host}: bind to 127.0.0.1 or ::1")
    listener = bind(settings.host, settings.port)
    runtime = Runtime(settings)
    console.print(f"data directory: {settings.data_dir} (set DEFIB_HOME to use another)")
    for warning in runtime.config_warnings:
        console.print(f"[bold yellow]warning:[/bold yellow] {warning}")
    if not insecure_no_auth:
        created = runtime.ensure_admin_token()
        if created is not None:
            console.print(f"[bold]Created the first admin token[/bold] in {created} (mode 0600).")
        console.print(
            "To use the CLI from any directory: "
            f"defib login --url {settings.local_url} --token-file {settings.admin_token_path}",
            markup=False,
        )
    else:
        console.print("[bold red]Auth is OFF[/bold red] (--insecure-no-auth): loopback only.")
    db_kind = "SQLite" if runtime.db.is_sqlite else "PostgreSQL"
    console.print(f"defib serving on http://{settings.host}:{settings.port} ({db_kind})")
    # The runtime is closed here, after the gateway and the worker that share it stopped.
    app = create_app(runtime, auth=not insecure_no_auth, own_runtime=False)
    embedded = None
    gateway_server = None
    try:
        if settings.gateway.embedded and not no_gateway:
            gateway_server = start_gateway(runtime)
        if not no_worker:
            from defib.playbooks.engine.worker import Worker

            embedded = Worker(runtime.engine, runtime.executor_id).start()
            console.print(f"playbook worker {embedded.executor_id} running in this process")
        run_server(app, listener, settings.log_level)
    finally:
        listener.close()
        if gateway_server is not None:
            gateway_server.stop()
        if embedded is not None:
            embedded.stop()
        runtime.close()


def start_gateway(runtime: Runtime) -> ThreadedServer | None:
    """The gateway on its own port, in a thread of this process (uvicorn leaves Ctrl-C to the
    API server in the main thread; `serve` stops the gateway after it).

    If its port is taken the API still starts (it is the control plane: incidents must stay
    manageable), with a loud warning.
    """
    from defib.cli.gateway import describe
    from defib.gateway.app import build_gateway, create_gateway_app
    from defib.gateway.server import ThreadedServer

    settings = runtime.settings
    server = ThreadedServer(
        create_gateway_app(build_gateway(runtime)),
        settings.gateway.host,
        settings.gateway.port,
        log_level=settings.log_level,
    )
    try:
        server.start()
    except RuntimeError as exc:
        console.print(
            f"[bold red]gateway not started[/bold red]: {exc} (is port {settings.gateway.port} "
            "in use? set gateway.port, or --no-gateway)"
        )
        return None
    console.print(describe(settings))
    return server
