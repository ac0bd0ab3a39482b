"""The demo model when its caller goes away mid-request."""

from __future__ import annotations

import asyncio
from typing import Any

from defib.gateway.demo_upstream import create_app


def test_a_caller_gone_before_its_body_arrived_gets_499_not_a_traceback() -> None:
    """A gateway killed mid-request disconnects; the demo model answers 499 and logs no
    'Exception in ASGI application'."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    asyncio.run(create_app()(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499, sent
