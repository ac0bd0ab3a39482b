"""`defib gateway`: the OpenAI-compatible data plane alone (no API, no playbook worker)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from defib.cli.common import ConfigOption, settings_or_exit
from defib.cli.output import console

if TYPE_CHECKING:
    # The settings cost about 300 ms to import; `--help` never needs them.
    from defib.config import Settings

# How often CPython asks a thread holding the GIL to give it up (default 5 ms); see gateway().
GATEWAY_SWITCH_INTERVAL_SECONDS = 0.0005


def with_gateway_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    """`settings` with the gateway's host/port replaced where given on the command line."""
    changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not changes:
        return settings
    return settings.model_copy(update={"gateway": settings.gateway.model_copy(update=changes)})


def describe(settings: Settings) -> str:
    systems = ", ".join(s.name for s in settings.systems) or "no systems configured"
    return f"defib gateway on http://{settings.gateway.host}:{settings.gateway.port}/v1 ({systems})"


def gateway(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default gateway.host, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default gateway.port, 8001).")] = None,
) -> None:
    """Serve the gateway: kill switch, filters, routing, capture (migrates the database first)."""
    import uvicorn

    from defib.bootstrap import Runtime
    from defib.gateway.app import build_gateway, create_gateway_app

    settings = with_gateway_address(settings_or_exit(config), host, port)
    runtime = Runtime(settings)
    # The post-processing thread (detection, masking, capture writes) holds the GIL for
    # whole batches; at CPython's default 5 ms switch interval a request arriving meanwhile
    # waits up to 5 ms per switch for the event loop to run again: +10-17 ms at p99 with
    # capture on. At 0.5 ms it is +1.3-2.7 ms (bench/gateway_latency.py, docs/gateway.md).
    sys.setswitchinterval(GATEWAY_SWITCH_INTERVAL_SECONDS)
    app = create_gateway_app(build_gateway(runtime))
    db_kind = "SQLite" if runtime.db.is_sqlite else "PostgreSQL"
    console.print(f"{describe(settings)} ({db_kind})")
    try:
        uvicorn.run(
            app,
            host=settings.gateway.host,
            port=settings.gateway.port,
            log_level=settings.log_level,
            access_log=False,
            timeout_graceful_shutdown=5,  # an open stream must not hold Ctrl-C forever
        )
    finally:
        runtime.close()
