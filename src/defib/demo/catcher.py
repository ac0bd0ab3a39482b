"""A local catcher for the notifications defib sends (Slack-style and generic webhooks):
it prints one line per message, so a newcomer sees who was told what without a Slack
workspace. `defib catch` runs it beside the demo model of the example configuration."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def describe(path: str, body: Any) -> str:
    """One line for a caught message: which channel, and what it says."""
    channel = path.strip("/").split("/")[0] or "webhook"
    if isinstance(body, dict):
        text = body.get("text")
        if not text and isinstance(body.get("incident"), dict):
            inc = body["incident"]
            text = f"{body.get('event', 'event')} {inc.get('id', '')}: {inc.get('title', '')}"
        if not text:
            text = body.get("event") or body.get("summary") or orjson.dumps(body).decode()
    else:
        text = orjson.dumps(body).decode()
    flat = " ".join(str(text).split())
    return f"[{channel}] {flat[:500]}"


def create_app(
    out: TextIO | None = None, on_message: Callable[[str], None] | None = None
) -> Starlette:
    lock = threading.Lock()
    caught: list[dict[str, Any]] = []

    async def receive(request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        line = describe(request.url.path, body)
        with lock:
            caught.append({"path": request.url.path, "body": body})
            stream = out or sys.stdout
            stream.write(line + "\n")
            stream.flush()
        if on_message is not None:
            on_message(line)
        # Slack's incoming webhooks answer a plain "ok".
        return Response("ok", media_type="text/plain")

    async def listing(_: Request) -> Response:
        with lock:
            return JSONResponse({"items": list(caught)})

    return Starlette(
        routes=[
            Route("/_caught", listing, methods=["GET"]),
            Route("/{path:path}", receive, methods=["POST", "PUT"]),
        ]
    )
