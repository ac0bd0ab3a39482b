"""The alert routes as plain ASGI, in front of FastAPI.

Under load, FastAPI's routing (matching every route of the app in turn), dependency
injection and response-model serialisation took about 40% of the serving process's GIL
time per alert request (issue 15). Alerts are the one hot path, so their three routes are
answered here directly with the same checks in the same order, the same status codes and
the same bodies; every other request (and every other method on these paths) goes on to
the app. The FastAPI routes stay registered: they document the routes in OpenAPI and serve
any caller that reaches the app without this layer.

Order of checks, as on the FastAPI routes: body size (413), duplicate keys and NUL (400/
422), token (401/403), format (404), JSON (400), payload (422); then the alerts are parsed,
classified, deduplicated and committed before the answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from defib.api import jsonguard
from defib.api.errors import error_body
from defib.auth import ANONYMOUS_ADMIN, Permission, Principal
from defib.bootstrap import Runtime
from defib.intake.formats import FORMATS, PayloadError
from defib.intake.results import IngestResult
from defib.store.outage import RETRY_AFTER_SECONDS, is_storage_unavailable

log = logging.getLogger(__name__)

_V1 = "/api/v1/alerts"
_V1_AS = "/api/v1/alerts/"
_V2 = "/api/v2/alerts"
# A path segment, as FastAPI's `{fmt}` matches it.
_SEGMENT = re.compile(r"[^/]+")
_JSON = [(b"content-type", b"application/json")]


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def route_of(method: str, path: str) -> tuple[bool, str | None] | None:
    """(route found, format) for an alert intake request; None for anything else."""
    if method != "POST":
        return None
    if path == _V2:
        return True, "prometheus"
    if path == _V1:
        return True, None
    if path.startswith(_V1_AS) and _SEGMENT.fullmatch(path, len(_V1_AS)):
        return True, path[len(_V1_AS) :]
    return None


def render(results: Sequence[IngestResult]) -> bytes:
    """The `AlertsAccepted` body, key for key what the response model serialises."""
    one = len(results) == 1
    return orjson.dumps(
        {
            "status": "success",
            "message": "Event processed" if one else f"{len(results)} alerts processed",
            "dedup_key": results[0].dedup_key if one else None,
            "results": [
                {
                    "action": r.action,
                    "incident_id": r.incident_id,
                    "type": r.type.value if r.type else None,
                    "severity": r.severity.value if r.severity else None,
                    "reason": r.reason,
                    "dedup_key": r.dedup_key,
                    "silenced_by": list(r.silenced_by) if r.silenced_by else None,
                    "inhibited_by": r.inhibited_by,
                }
                for r in results
            ],
        }
    )


class AlertFastPath:
    """ASGI middleware: answers POSTs to the alert routes; passes everything else on."""

    def __init__(self, app: ASGIApp, runtime: Runtime, *, auth: bool, max_bytes: int) -> None:
        self.app = app
        self.runtime = runtime
        self.auth = auth
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            route_of(scope.get("method", ""), scope["path"]) if scope["type"] == "http" else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        status = 200 if scope["path"] == _V2 else 202
        try:
            try:
                body = await self._handle(scope, receive, route[1])
            except (_Refused, _Gone):
                raise
            except Exception as exc:  # the token lookup or the commit: as the app's handlers
                raise _failure(exc) from exc
        except _Refused as exc:
            await _answer(
                send, exc.status, orjson.dumps(error_body(exc.code, exc.message)), exc.headers
            )
            return
        except _Gone:
            return
        await _answer(send, status, body)

    async def _handle(self, scope: Scope, receive: Receive, fmt: str | None) -> bytes:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of repeated headers, as Starlette
        raw = await self._body(headers, receive)
        refused = jsonguard.check(raw) if raw else None
        if refused is not None:
            raise _Refused(*refused)
        principal = await self._principal(headers)
        if not principal.can(Permission.INGEST):
            raise _Refused(
                403,
                "forbidden",
                f"token {principal.name!r} has role {principal.role.value}, "
                f"which may not {Permission.INGEST.value.replace(':', ' ')}",
            )
        telemetry = self.runtime.telemetry
        if fmt is not None and fmt not in FORMATS:
            telemetry.alerts_rejected.labels("unknown_format").inc()
            raise _Refused(
                404, "not_found", f"unknown alert format {fmt!r}; use one of {', '.join(FORMATS)}"
            )
        if not raw:
            telemetry.alerts_rejected.labels("not_json").inc()
            raise _Refused(400, "bad_request", "empty body: send a JSON alert payload")
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            telemetry.alerts_rejected.labels("not_json").inc()
            raise _Refused(400, "bad_request", f"body is not valid JSON: {exc}") from exc
        try:
            future = self.runtime.intake.submit(payload, fmt, principal.name)
        except PayloadError as exc:
            telemetry.alerts_rejected.labels("invalid_payload").inc()
            raise _Refused(422, "invalid_payload", str(exc)) from exc
        try:
            results = await asyncio.wrap_future(future)
        except Exception:
            telemetry.intake_errors.inc()
            raise
        return render(results)

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                raise _Refused(*_too_large(self.max_bytes))
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The sender hung up mid-body: nothing was accepted, nobody is left to answer.
                self.runtime.telemetry.alerts_rejected.labels("not_json").inc()
                raise _Gone
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                raise _Refused(*_too_large(self.max_bytes))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _principal(self, headers: dict[bytes, bytes]) -> Principal:
        if not self.auth:
            return ANONYMOUS_ADMIN
        challenge = {"WWW-Authenticate": "Bearer"}
        value = headers.get(b"authorization", b"").decode("latin-1")
        # As FastAPI's HTTPBearer reads the header: "<scheme> <credentials>".
        scheme, _, token = value.partition(" ")
        if not value or not scheme or not token or scheme.lower() != "bearer":
            raise _Refused(401, "unauthorized", "missing bearer token", challenge)
        cache = self.runtime.tokens
        found, principal = cache.cached(token)
        if not found:
            principal = await asyncio.to_thread(cache.lookup, token)
        if principal is None:
            raise _Refused(401, "unauthorized", "invalid or revoked token", challenge)
        return principal


class _Gone(Exception):
    """The client disconnected before its body arrived."""


def _failure(exc: Exception) -> _Refused:
    if is_storage_unavailable(exc):
        # Nothing was written (the transaction rolled back): the sender retries.
        log.warning("storage unavailable: %s: %s", type(exc).__name__, exc)
        return _Refused(
            503,
            "storage_unavailable",
            "storage is unavailable right now; nothing was written, retry shortly",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error("unhandled error", exc_info=exc)
    return _Refused(500, "internal", f"internal error: {type(exc).__name__}")


def _too_large(max_bytes: int) -> tuple[int, str, str]:
    return 413, "payload_too_large", f"request body over the limit of {max_bytes} bytes"


async def _answer(
    send: Send, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    raw_headers: list[tuple[bytes, bytes]] = [
        *_JSON,
        (b"content-length", str(len(body)).encode()),
    ]
    if headers:
        raw_headers.extend((k.lower().encode(), v.encode()) for k, v in headers.items())
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": status,
        "headers": raw_headers,
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
