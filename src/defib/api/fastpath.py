"""Alert intake over HTTP: the one implementation, and the lean ASGI entry that serves it.

`accept` turns a request body into committed alerts (format 404, JSON 400, payload 422,
then parse, classify, deduplicate and commit) and `render` writes the answer; errors are
`ApiError`s, and anything unexpected is answered by `api.errors.failure_error` (503 with
Retry-After when storage is down or a lock race was lost, else 500), as in the app.

Two entry points call them. `AlertFastPath`, ASGI middleware in front of FastAPI, answers
POSTs to the three alert routes itself: under load, FastAPI's routing (matching every route
in turn), dependency injection and response-model serialisation took about 40% of the
serving process's GIL time per alert request (issue 15; `docs/bench-intake.md`). It runs the
checks the app's middleware and dependencies would, in the same order: body size (413),
duplicate keys and NUL (400/422), token (401/403). The FastAPI routes in
`api/routes/alerts.py` stay registered for OpenAPI and for any caller that reaches the app
without this layer; they call `accept` and `render` too, so both answer alike.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from defib.api import jsonguard
from defib.api.errors import ApiError, error_body, failure_error
from defib.auth import ANONYMOUS_ADMIN, Permission, Principal
from defib.bootstrap import Runtime
from defib.intake.formats import FORMATS, PayloadError
from defib.intake.results import IngestResult

_V1 = "/api/v1/alerts"
_V1_AS = "/api/v1/alerts/"
_V2 = "/api/v2/alerts"
# A path segment, as FastAPI's `{fmt}` matches it.
_SEGMENT = re.compile(r"[^/]+")
_JSON = [(b"content-type", b"application/json")]


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


def status_of(path: str) -> int:
    """200 for Alertmanager's API v2 (what Prometheus expects), 202 for defib's own routes."""
    return 200 if path == _V2 else 202


async def accept(runtime: Runtime, raw: bytes, fmt: str | None, actor: str) -> list[IngestResult]:
    """Refuse or commit one request's alerts; the answers once they are committed.

    Raises `ApiError` for an unknown format (404), a body that is not JSON (400) or a
    payload no adapter accepts (422), counting each on the rejection counter; an error
    while committing (counted as an intake error) propagates for `failure_error`.
    """
    telemetry = runtime.telemetry
    if fmt is not None and fmt not in FORMATS:
        telemetry.alerts_rejected.labels("unknown_format").inc()
        raise ApiError(
            404, "not_found", f"unknown alert format {fmt!r}; use one of {', '.join(FORMATS)}"
        )
    if not raw:
        telemetry.alerts_rejected.labels("not_json").inc()
        raise ApiError(400, "bad_request", "empty body: send a JSON alert payload")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        telemetry.alerts_rejected.labels("not_json").inc()
        raise ApiError(400, "bad_request", f"body is not valid JSON: {exc}") from exc
    try:
        # Parsing and classification are pure and take microseconds: no thread hop for them.
        future = runtime.intake.submit(payload, fmt, actor)
    except PayloadError as exc:
        telemetry.alerts_rejected.labels("invalid_payload").inc()
        raise ApiError(422, "invalid_payload", str(exc)) from exc
    try:
        return await asyncio.wrap_future(future)
    except Exception:
        telemetry.intake_errors.inc()
        raise


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
        try:
            try:
                body = await self._handle(scope, receive, route[1])
            except (ApiError, _Gone):
                raise
            except Exception as exc:  # the token lookup or the commit: as the app's handlers
                raise failure_error(exc) from exc
        except ApiError as exc:
            await _answer(
                send, exc.status, orjson.dumps(error_body(exc.code, exc.message)), exc.headers
            )
            return
        except _Gone:
            return
        await _answer(send, status_of(scope["path"]), body)

    async def _handle(self, scope: Scope, receive: Receive, fmt: str | None) -> bytes:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of repeated headers, as Starlette
        raw = await self._body(headers, receive)
        refused = jsonguard.check(raw) if raw else None
        if refused is not None:
            raise ApiError(*refused)
        principal = await self._principal(headers)
        if not principal.can(Permission.INGEST):
            raise ApiError(
                403,
                "forbidden",
                f"token {principal.name!r} has role {principal.role.value}, "
                f"which may not {Permission.INGEST.value.replace(':', ' ')}",
            )
        return render(await accept(self.runtime, raw, fmt, principal.name))

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                raise ApiError(*_too_large(self.max_bytes))
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
                raise ApiError(*_too_large(self.max_bytes))
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
            raise ApiError(401, "unauthorized", "missing bearer token", challenge)
        cache = self.runtime.tokens
        found, principal = cache.cached(token)
        if not found:
            principal = await asyncio.to_thread(cache.lookup, token)
        if principal is None:
            raise ApiError(401, "unauthorized", "invalid or revoked token", challenge)
        return principal


class _Gone(Exception):
    """The client disconnected before its body arrived."""


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
