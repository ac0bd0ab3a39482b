"""Alert intake routes, as FastAPI documents them (OpenAPI) and serves them without the fast path.

In `defib serve` the lean ASGI layer `api/fastpath.py` answers these requests before they
reach FastAPI; both go through its `accept` and `render`, so they answer alike. The
`response_model` documents the body `render` writes (tests/unit/api/test_fastpath.py holds them
to each other).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.requests import ClientDisconnect

from defib.api.deps import Ingester, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.fastpath import accept, render
from defib.api.schemas import AlertsAccepted

router = APIRouter(tags=["alerts"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "An Alertmanager webhook, Grafana webhook, PagerDuty Events v2 "
                    "event, Prometheus postableAlerts array or native defib alert.",
                    # Each branch fully typed: client generators refuse a bare array.
                    "oneOf": [
                        {"type": "object", "additionalProperties": True},
                        {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": True},
                        },
                    ],
                }
            }
        },
    }
}
_ERRORS = error_responses(
    400,
    413,
    d400="body is not JSON",
    d403="the token may not post alerts",
    d422="payload invalid; the message names the field",
)


async def _ingest(
    request: Request, runtime: RuntimeDep, actor: str, fmt: str | None, code: int
) -> Response:
    try:
        raw = await request.body()
    except ClientDisconnect as exc:
        # The sender hung up mid-body: nothing was accepted, and nobody is left to answer.
        runtime.telemetry.alerts_rejected.labels("not_json").inc()
        raise ApiError(400, "bad_request", "client disconnected before sending the body") from exc
    results = await accept(runtime, raw, fmt, actor)
    return Response(render(results), status_code=code, media_type="application/json")


@router.post(
    "/api/v1/alerts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertsAccepted,
    openapi_extra=_BODY_DOC,
    responses=_ERRORS,
)
async def post_alerts(request: Request, runtime: RuntimeDep, who: Ingester) -> Response:
    """Accept alerts in any supported format (auto-detected); one result per alert."""
    return await _ingest(request, runtime, who.name, None, status.HTTP_202_ACCEPTED)


@router.post(
    "/api/v1/alerts/{fmt}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertsAccepted,
    openapi_extra=_BODY_DOC,
    responses=error_responses(
        400, 404, 413, d400="body is not JSON", d404="unknown format", d422="payload invalid"
    ),
)
async def post_alerts_as(
    fmt: str, request: Request, runtime: RuntimeDep, who: Ingester
) -> Response:
    """Accept alerts in the named format: alertmanager, grafana, pagerduty, prometheus, native."""
    return await _ingest(request, runtime, who.name, fmt, status.HTTP_202_ACCEPTED)


@router.post(
    "/api/v2/alerts",
    status_code=status.HTTP_200_OK,
    response_model=AlertsAccepted,
    openapi_extra=_BODY_DOC,
    responses=_ERRORS,
)
async def post_prometheus_alerts(request: Request, runtime: RuntimeDep, who: Ingester) -> Response:
    """Alertmanager API v2 shape, so Prometheus can list defib among its alertmanagers."""
    return await _ingest(request, runtime, who.name, "prometheus", status.HTTP_200_OK)
