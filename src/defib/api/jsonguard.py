"""Refuse JSON bodies that would be read two ways or stored differently per database.

- Duplicate keys (`{"type": "a", "type": "b"}`): parsers disagree on which wins (the
  last, here; the first, in some proxies and WAFs), so a payload could be vetted as one
  thing and acted on as another. 400.
- NUL characters (`\\u0000`): SQLite stores them, PostgreSQL refuses them in text columns,
  so the same alert was accepted on one database and a 500 on the other (and senders that
  retry on 5xx re-sent it forever). 422 naming the field, on both.

Pure ASGI middleware in front of every /api route that takes a body; the body is read
once (the size limit outside it still applies) and handed on unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from defib.api.errors import error_body

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def nul_path(value: Any, where: str = "") -> str | None:
    """The path (`alerts[2].labels.x`) of the first key or string holding a NUL, or None."""
    if isinstance(value, str):
        return (where or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in k:
                return _path(where, k.replace("\x00", "\\u0000"))
            found = nul_path(v, _path(where, k))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = nul_path(v, _path(where, i))
            if found is not None:
                return found
    return None


def check(raw: bytes) -> tuple[int, str, str] | None:
    """(status, code, message) refusing `raw`, or None to let the route decide."""
    if b"\\u0000" in raw:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        where = nul_path(parsed)
        if where is not None:
            return (
                422,
                "invalid_payload",
                f"{where}: contains a NUL character (\\u0000), which defib does not store",
            )
    if b'"' not in raw:
        return None
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    except DuplicateKey as exc:
        return 400, "bad_request", f"duplicate key {exc.args[0]!r} in a JSON object"
    except ValueError:
        return None  # not JSON: the route says so in its own words
    return None


class JsonGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the app see it as it would have.
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        refused = check(raw) if raw else None
        if refused is not None:
            status, code, text = refused
            body = orjson.dumps(error_body(code, text))
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        replay: list[Message] = [{"type": "http.request", "body": raw, "more_body": False}]
        await self.app(scope, _replay(replay, receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again
