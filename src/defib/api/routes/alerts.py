"""Alert intake routes. Bodies are parsed with orjson and validated by the pure adapters."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request, status
from starlette.requests import ClientDisconnect

from defib.api.deps import Ingester, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.schemas import AlertResultOut, AlertsAccepted
from defib.intake.formats import FORMATS, PayloadError

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


async def _json_body(request: Request) -> object:
    try:
        raw = await request.body()
    except ClientDisconnect as exc:
        # The sender hung up mid-body: nothing was accepted, and nobody is left to answer.
        raise ApiError(400, "bad_request", "client disconnected before sending the body") from exc
    if not raw:
        raise ApiError(400, "bad_request", "empty body: send a JSON alert payload")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "bad_request", f"body is not valid JSON: {exc}") from exc


async def _ingest(
    request: Request, runtime: RuntimeDep, actor: str, fmt: str | None
) -> AlertsAccepted:
    telemetry = runtime.telemetry
    try:
        payload = await _json_body(request)
    except ApiError:
        telemetry.alerts_rejected.labels("not_json").inc()
        raise
    try:
        # Parsing and classification are pure and take microseconds: no thread hop for them.
        future = runtime.intake.submit(payload, fmt, actor)
    except PayloadError as exc:
        telemetry.alerts_rejected.labels("invalid_payload").inc()
        raise ApiError(422, "invalid_payload", str(exc)) from exc
    try:
        results = await asyncio.wrap_future(future)
    except Exception:
        telemetry.intake_errors.inc()
        raise
    return AlertsAccepted(
        message="Event processed" if len(results) == 1 else f"{len(results)} alerts processed",
        dedup_key=results[0].dedup_key if len(results) == 1 else None,
        results=[AlertResultOut(**r.to_dict()) for r in results],
    )


@router.post(
    "/api/v1/alerts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertsAccepted,
    openapi_extra=_BODY_DOC,
    responses=_ERRORS,
)
async def post_alerts(request: Request, runtime: RuntimeDep, who: Ingester) -> AlertsAccepted:
    """Accept alerts in any supported format (auto-detected); one result per alert."""
    return await _ingest(request, runtime, who.name, None)


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
) -> AlertsAccepted:
    """Accept alerts in the named format: alertmanager, grafana, pagerduty, prometheus, native."""
    if fmt not in FORMATS:
        runtime.telemetry.alerts_rejected.labels("unknown_format").inc()
        raise ApiError(
            404, "not_found", f"unknown alert format {fmt!r}; use one of {', '.join(FORMATS)}"
        )
    return await _ingest(request, runtime, who.name, fmt)


@router.post(
    "/api/v2/alerts",
    status_code=status.HTTP_200_OK,
    response_model=AlertsAccepted,
    openapi_extra=_BODY_DOC,
    responses=_ERRORS,
)
async def post_prometheus_alerts(
    request: Request, runtime: RuntimeDep, who: Ingester
) -> AlertsAccepted:
    """Alertmanager API v2 shape, so Prometheus can list defib among its alertmanagers."""
    return await _ingest(request, runtime, who.name, "prometheus")
