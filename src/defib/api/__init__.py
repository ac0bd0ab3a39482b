"""The REST API (FastAPI). `create_app` wires a Runtime into routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from defib import __version__
from defib.api.errors import install_error_handlers
from defib.api.fastpath import AlertFastPath
from defib.api.jsonguard import JsonGuard
from defib.api.limits import BodySizeLimit
from defib.api.nulguard import NulGuard
from defib.api.routes import (
    alerts,
    am_alerts,
    approvals,
    audit,
    evidence,
    health,
    incidents,
    metrics,
    oncall,
    pagerduty,
    review,
    runs,
    signals,
    silences,
    slack,
    systems,
    tokens,
)
from defib.bootstrap import Runtime
from defib.signals.hub import SignalHub
from defib.web import install as install_console


def operation_id(route: APIRoute) -> str:
    """A stable camelCase operation id from the handler's name: `list_incidents` ->
    `listIncidents` (what client generators name their methods after)."""
    head, *rest = route.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def create_app(runtime: Runtime, *, auth: bool = True, own_runtime: bool = False) -> FastAPI:
    """An app serving `runtime`; with `own_runtime` the app closes it on shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        signal_hub.close()  # releases held spans and processes what is queued
        if own_runtime:
            runtime.close()

    app = FastAPI(
        title="defib",
        version=__version__,
        description="Incident response for AI systems in production.",
        # No default_response_class: routes with a response_model are serialised by
        # pydantic-core straight to bytes, and OpenAPI shows their real schemas.
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        # No Swagger UI or ReDoc: FastAPI loads them from a CDN, which would run third-party
        # script on the console's origin (its session cookie's). /openapi.json stays.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.auth_enabled = auth
    # OTLP and LiteLLM signals: its threads start on the first signal.
    signal_hub = app.state.signals = SignalHub(runtime.settings, runtime.db, runtime.intake.submit)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(health.router, prefix="/api/v1", include_in_schema=False)
    app.include_router(incidents.router, prefix="/api/v1")
    app.include_router(runs.router, prefix="/api/v1")
    app.include_router(approvals.router, prefix="/api/v1")
    app.include_router(evidence.router, prefix="/api/v1")
    app.include_router(review.router, prefix="/api/v1")
    app.include_router(systems.router, prefix="/api/v1")
    app.include_router(tokens.router, prefix="/api/v1")
    app.include_router(audit.router, prefix="/api/v1")
    app.include_router(oncall.router, prefix="/api/v1")
    app.include_router(pagerduty.router, prefix="/api/v1")
    app.include_router(alerts.router)
    app.include_router(silences.router)
    app.include_router(am_alerts.router)
    app.include_router(metrics.router)
    app.include_router(slack.router)
    app.include_router(signals.router)
    install_console(app, runtime)
    app.add_middleware(JsonGuard)
    # NUL in a path, query or form field: 422 before any route (PostgreSQL refuses NUL).
    app.add_middleware(NulGuard)
    # Added last, so outermost: the size limit applies before the guard reads a body.
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_body_bytes)
    # Outermost of all: the alert routes' lean path (the same checks, see api/fastpath.py).
    app.add_middleware(
        AlertFastPath, runtime=runtime, auth=auth, max_bytes=runtime.settings.max_body_bytes
    )
    return app
