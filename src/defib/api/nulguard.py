"""Refuse NUL characters in paths, query strings and form bodies, in one place.

PostgreSQL refuses NUL in text, so `/api/v1/runs/%00`, `/api/v2/silence/%00`, a console
page's `%00` or a `commander` form field holding one answered 500 on PostgreSQL (and
something else on SQLite) wherever the value reached a query (issue 25). No identifier,
filter or form field of defib's has a use for NUL, so it is refused before any route runs:
422 with the JSON error body for the API, the console's error page for its pages. JSON
bodies are JsonGuard's (it names the field).

Pure ASGI middleware; a form body is read once and handed on unchanged.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from defib.api.errors import error_body
from defib.web.render import page

# Paths whose callers are programs (JSON errors); the rest are the console's pages.
API_PREFIXES = (
    "/api/",
    "/v1/",
    "/integrations/",
    "/metrics",
    "/healthz",
    "/readyz",
    "/livez",
    "/openapi",
    "/docs",
)
_FORM = b"application/x-www-form-urlencoded"


def _has_nul(raw: bytes) -> bool:
    # `+` is a space in forms and queries; only `%00` and a raw NUL matter here.
    return b"\x00" in raw or b"\x00" in unquote_to_bytes(raw)


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        raw_path = scope.get("raw_path") or b""
        if "\x00" in path or _has_nul(raw_path):
            await self._refuse(scope, send, "the path")
            return
        if _has_nul(scope.get("query_string", b"")):
            await self._refuse(scope, send, "the query string")
            return
        headers = dict(scope.get("headers") or [])
        if scope.get("method") != "POST" or not headers.get(b"content-type", b"").startswith(_FORM):
            await self.app(scope, receive, send)
            return
        body, messages = await _read_all(receive)
        if _has_nul(body):
            await self._refuse(scope, send, "a form field")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send, where: str) -> None:
        message = f"{where} contains a NUL character (%00), which no field of defib's takes"
        path: str = scope.get("path", "")
        if path.startswith(API_PREFIXES) or "app" not in scope:
            body = orjson.dumps(error_body("invalid", message))
            await _send(send, 422, body, b"application/json")
            return
        # The console's own error page, as for its other refusals.
        response = page(
            Request(scope),
            "error.html",
            None,
            status_code=422,
            title="Not accepted",
            message=message,
        )
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def _read_all(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks: list[bytes] = []
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


async def _send(send: Send, status: int, body: bytes, media_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
