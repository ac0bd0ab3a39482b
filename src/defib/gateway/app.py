"""The gateway's ASGI app: OpenAI-compatible routes in front of each system's model.

The completion routes are dispatched straight from the ASGI scope (a dict lookup on the
path) instead of through Starlette's router and middleware stack: on the request path that
saved about 0.2 ms per request in the benchmark (docs/gateway.md). Everything else (models,
health, 404s, the lifespan) goes through an ordinary Starlette app.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from defib.gateway import protocol
from defib.gateway.errors import error_bytes
from defib.gateway.proxy import Gateway, alert_sink

if TYPE_CHECKING:
    from collections.abc import Mapping

    from defib.config import Settings
    from defib.intake.pipeline import Intake
    from defib.store.database import Database
    from defib.store.token_cache import TokenCache
    from defib.telemetry import Telemetry

log = logging.getLogger(__name__)

_SUFFIXES = {"/v1/chat/completions": protocol.CHAT, "/v1/completions": protocol.COMPLETIONS}
_PREFIX = "/systems/"


class GatewayRuntime(Protocol):
    """What the gateway takes from the process's Runtime (`defib.bootstrap`, which builds
    each of these once); named by shape so the gateway never imports the root above it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def tokens(self) -> TokenCache: ...
    @property
    def intake(self) -> Intake: ...
    @property
    def telemetry(self) -> Telemetry: ...
    @property
    def secrets(self) -> Mapping[str, str]: ...


def build_gateway(runtime: GatewayRuntime) -> Gateway:
    """A gateway sharing the runtime's database, token cache and intake."""
    return Gateway(
        runtime.settings,
        runtime.db,
        runtime.tokens,
        alert_sink(runtime.intake.submit),
        observe=runtime.telemetry.observe_gateway,
        render_metrics=runtime.telemetry.render,
        secrets=runtime.secrets,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Unknown route.", 405: "Method not allowed."}.get(status, "Error.")
    return Response(
        error_bytes(message, "invalid_request_error", None),
        status_code=status,
        media_type="application/json",
    )


def match_completion(path: str) -> tuple[str, str | None] | None:
    """(endpoint, system named in the path or None) for a completion route."""
    endpoint = _SUFFIXES.get(path)
    if endpoint is not None:
        return endpoint, None
    if not path.startswith(_PREFIX):
        return None
    name, slash, rest = path[len(_PREFIX) :].partition("/")
    endpoint = _SUFFIXES.get(slash + rest)
    if endpoint is None or not name:
        return None
    return endpoint, name


class GatewayApp:
    """ASGI entry point: completions handled directly, the rest by Starlette."""

    def __init__(self, gateway: Gateway, fallback: Starlette) -> None:
        self.gateway = gateway
        self.fallback = fallback
        self.state = fallback.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            matched = match_completion(scope["path"])
            if matched is not None:
                endpoint, name = matched
                if name is not None:
                    scope["path_params"] = {"system": name}
                try:
                    response = await self.gateway.complete(Request(scope, receive), endpoint)
                except Exception:
                    log.exception("gateway: unhandled error on %s", scope["path"])
                    response = Response(
                        error_bytes("Internal error in the gateway.", "server_error", None),
                        status_code=500,
                        media_type="application/json",
                    )
                await response(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def create_gateway_app(gateway: Gateway) -> GatewayApp:
    routes = [
        Route("/healthz", gateway.healthz, methods=["GET"]),
        Route("/metrics", gateway.metrics, methods=["GET"]),
    ]
    for prefix in ("", "/systems/{system}"):
        routes += [
            # Reached only for other methods (the dispatcher takes POST): 405 in OpenAI shape.
            Route(f"{prefix}/v1/chat/completions", gateway.chat, methods=["POST"]),
            Route(f"{prefix}/v1/completions", gateway.completions, methods=["POST"]),
            Route(f"{prefix}/v1/models", gateway.models, methods=["GET"]),
        ]
    app = Starlette(
        routes=routes,
        lifespan=gateway.lifespan,
        exception_handlers={404: _http_error, 405: _http_error},
    )
    app.state.gateway = gateway
    return GatewayApp(gateway, app)
