"""GET /metrics: Prometheus text exposition, for a viewer token or anyone when configured."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from defib.api.deps import BearerCredentials, RuntimeDep, get_principal
from defib.api.errors import ApiError, error_responses
from defib.auth import Permission
from defib.telemetry import MEDIA_TYPE

router = APIRouter(tags=["metrics"])


async def _may_scrape(
    request: Request,
    runtime: RuntimeDep,
    credentials: BearerCredentials,
) -> None:
    if runtime.settings.metrics.public:
        return
    principal = await get_principal(request, credentials)
    if not principal.can(Permission.READ):
        raise ApiError(
            403,
            "forbidden",
            f"token {principal.name!r} has role {principal.role.value}, which may not read",
        )


class PrometheusText(Response):
    media_type = MEDIA_TYPE


@router.get(
    "/metrics",
    response_class=PrometheusText,
    dependencies=[Depends(_may_scrape)],
    responses={
        200: {
            "description": "Prometheus text format 0.0.4 (docs/metrics.md names every series).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(
            base=(401, 403),
            non_json_route=True,
            d401="missing or invalid token (unless `metrics.public`)",
            d403="the token's role may not read",
        ),
    },
)
async def metrics(runtime: RuntimeDep) -> PrometheusText:
    """Per-process counters and database-derived incident, run and response-time series."""
    # The database-derived part may query (at most once per `metrics.cache_seconds`).
    body = await run_in_threadpool(runtime.telemetry.render)
    return PrometheusText(body)
