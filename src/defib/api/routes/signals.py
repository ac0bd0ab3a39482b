"""Signals from the AI stack: OTLP/HTTP traces and logs, LiteLLM's webhooks (docs/signals.md).

`POST /v1/traces` and `POST /v1/logs` sit at OTLP's standard paths on the API port, so an
OpenTelemetry SDK or Collector exporter needs only the endpoint and a bearer header. They
answer in the request's encoding (protobuf or JSON) with OTLP's export response; refusals
(400, 401, 403, 413, 415) carry defib's JSON error body.
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from defib.api.deps import BearerCredentials, Ingester, RuntimeDep, get_principal
from defib.api.errors import ApiError, error_responses
from defib.api.schemas import AlertResultOut
from defib.auth import Permission, Principal
from defib.intake.formats import PayloadError
from defib.intake.results import IngestResult
from defib.signals import litellm, otlp
from defib.signals.hub import SignalHub

router = APIRouter(tags=["signals"])

# A compressed export may inflate this many times the body limit, no more (a gzip bomb).
MAX_INFLATION = 16
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"

_OTLP_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            _PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            _JSON: {"schema": {"type": "object"}},
        },
    }
}
_OTLP_ERRORS = error_responses(
    400,
    413,
    415,
    503,
    non_json_route=True,
    d503="detection is behind: retry after the Retry-After seconds",
    d400="the body is not an OTLP export in the declared encoding",
    d403="the token may not ingest",
)


class LiteLLMAccepted(BaseModel):
    """What became of one LiteLLM webhook delivery."""

    calls: int = Field(description="Model calls handed to detection and the SLOs.")
    ignored: int = Field(description="Alerts that are news, not trouble (reports, new keys).")
    results: list[AlertResultOut] = Field(description="One result per alert raised.")


class OtlpResponse(Response):
    """An OTLP export response: protobuf, or OTLP/JSON when the request was JSON."""

    media_type = _PROTOBUF


_OTLP_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "ExportTraceServiceResponse / ExportLogsServiceResponse, in the "
        "request's encoding: empty, or partial_success naming the rejected items",
        "content": {_PROTOBUF: {}, _JSON: {"schema": {"type": "object"}}},
    }
}


def hub(request: Request) -> SignalHub:
    signals: SignalHub = request.app.state.signals
    return signals


def _accepting(request: Request) -> None:
    """503 with Retry-After while post-processing is behind: OTLP exporters and LiteLLM's
    logger retry it, whereas spans taken now would be shed unexamined."""
    if hub(request).busy():
        raise ApiError(
            503, "unavailable", "detection is behind; retry shortly", {"Retry-After": "1"}
        )


def _encoding(request: Request) -> otlp.Encoding:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in (_PROTOBUF, "application/protobuf"):
        return "protobuf"
    if media == _JSON:
        return "json"
    raise ApiError(
        415,
        "unsupported_media_type",
        f"content-type {media or '(none)'!r}: OTLP/HTTP sends {_PROTOBUF} or {_JSON}",
    )


def _inflate(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)  # gzip framing
    try:
        body = inflater.decompress(raw, limit)
    except zlib.error as exc:
        raise ApiError(400, "bad_request", f"body is not valid gzip: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ApiError(413, "payload_too_large", f"body inflates to more than {limit} bytes (gzip)")
    return body


async def _body(request: Request, max_bytes: int) -> bytes:
    try:
        raw = await request.body()
    except ClientDisconnect as exc:
        raise ApiError(400, "bad_request", "client disconnected before sending the body") from exc
    coding = request.headers.get("content-encoding", "identity").strip().lower()
    if coding == "gzip":
        return _inflate(raw, max_bytes * MAX_INFLATION)
    if coding not in ("", "identity"):
        raise ApiError(
            415, "unsupported_media_type", f"content-encoding {coding!r}: send gzip or none"
        )
    return raw


def _media(encoding: otlp.Encoding) -> str:
    return _PROTOBUF if encoding == "protobuf" else _JSON


@router.post(
    "/v1/traces",
    openapi_extra=_OTLP_DOC,
    response_class=OtlpResponse,
    responses={**_OTLP_ANSWER, **_OTLP_ERRORS},
)
async def export_traces(request: Request, runtime: RuntimeDep, who: Ingester) -> Response:
    """OTLP/HTTP traces: GenAI spans feed detection and SLOs; other spans are dropped."""
    _accepting(request)
    encoding = _encoding(request)
    body = await _body(request, runtime.settings.max_body_bytes)
    try:
        batch = otlp.decode_traces(body, encoding)
    except otlp.OtlpError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    hub(request).spans(batch.calls)
    return OtlpResponse(otlp.traces_answer(batch, encoding), media_type=_media(encoding))


@router.post(
    "/v1/logs",
    openapi_extra=_OTLP_DOC,
    response_class=OtlpResponse,
    responses={**_OTLP_ANSWER, **_OTLP_ERRORS},
)
async def export_logs(request: Request, runtime: RuntimeDep, who: Ingester) -> Response:
    """OTLP/HTTP logs: GenAI events, joined to their spans by trace and span id."""
    _accepting(request)
    encoding = _encoding(request)
    body = await _body(request, runtime.settings.max_body_bytes)
    try:
        batch = otlp.decode_logs(body, encoding, datetime.now(UTC))
    except otlp.OtlpError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    hub(request).events(batch.events)
    return OtlpResponse(otlp.logs_answer(batch, encoding), media_type=_media(encoding))


# -- LiteLLM ------------------------------------------------------------------------------

_LITELLM_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            _JSON: {
                "schema": {
                    "description": "LiteLLM's StandardLoggingPayload (an object, an array of "
                    "them, or NDJSON), an alerting WebhookEvent, or a Slack-shaped alert.",
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


async def _litellm(
    request: Request, runtime: RuntimeDep, actor: str, system: str | None
) -> LiteLLMAccepted:
    _accepting(request)
    body = await _body(request, runtime.settings.max_body_bytes)
    try:
        parsed = litellm.parse(litellm.loads(body), system)
    except litellm.LiteLLMError as exc:
        raise ApiError(422, "invalid_payload", str(exc)) from exc
    hub(request).litellm_calls(parsed.calls)
    results: list[IngestResult] = []
    for alert in parsed.alerts:
        try:
            future = runtime.intake.submit(alert, "native", actor)
        except PayloadError as exc:
            raise ApiError(422, "invalid_payload", str(exc)) from exc
        stored: list[IngestResult] = await asyncio.wrap_future(future)
        results.extend(stored)
    return LiteLLMAccepted(
        calls=len(parsed.calls),
        ignored=parsed.ignored,
        results=[AlertResultOut(**r.to_dict()) for r in results],
    )


@router.post(
    "/api/v1/signals/litellm",
    status_code=202,
    openapi_extra=_LITELLM_DOC,
    responses=error_responses(
        400, 413, 503, d403="the token may not ingest", d422="not LiteLLM's", d503="retry later"
    ),
)
async def post_litellm(
    request: Request, runtime: RuntimeDep, who: Ingester, system: str | None = None
) -> LiteLLMAccepted:
    """LiteLLM's generic API logger and alerting webhooks; `system` names the defib system
    when no `defib-system:<name>` request tag does (default: the model group)."""
    return await _litellm(request, runtime, who.name, system)


async def _query_ingester(
    request: Request, credentials: BearerCredentials, token: str | None = None
) -> Principal:
    """The bearer token, or else the `token` query parameter: LiteLLM's alerting posts to a
    bare URL (Slack's incoming-webhook convention) and cannot send a header."""
    if credentials is None and token:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    principal = await get_principal(request, credentials)
    if not principal.can(Permission.INGEST):
        raise ApiError(
            403, "forbidden", f"token {principal.name!r} has role {principal.role.value}"
        )
    return principal


@router.post(
    "/api/v1/signals/litellm/alerts",
    status_code=202,
    openapi_extra=_LITELLM_DOC,
    responses=error_responses(
        400, 413, 503, d403="the token may not ingest", d422="not LiteLLM's", d503="retry later"
    ),
)
async def post_litellm_alerts(
    request: Request,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(_query_ingester)],
    system: str | None = None,
) -> LiteLLMAccepted:
    """LiteLLM's alerting webhook (`SLACK_WEBHOOK_URL` / `WEBHOOK_URL`); the token may come
    as `?token=` (use an ingest-only token: URLs end up in logs)."""
    return await _litellm(request, runtime, who.name, system)
