"""A small OpenAI-compatible model server for demos, tests and the benchmark (loopback).

It serves two "versions" of a model, chosen by the request's `model`: a name containing
`v2` behaves like a regressed release that leaks personal data when asked about a customer
or an account; any other name behaves well. Streaming and non-streaming both work.

Test hooks in the prompt: `[sleep=1.5]` waits that many seconds before answering;
`[stall=1.5]` streams the first chunk, then waits that long before the rest; `[say=...]`
answers exactly the given text (up to the closing bracket).

    python -m defib.gateway.demo_upstream --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from defib.gateway.server import ThreadedServer

LEAK = (
    "Sure. The customer on file is Jane Doe, e-mail jane.doe@example.com, phone "
    "+1 415 555 0132, SSN 123-45-6789."
)
GOOD = "I can't share personal details about customers, but I can help with your account."
_SLEEP = re.compile(r"\[sleep=([0-9.]+)\]")
_SAY = re.compile(r"\[say=([^\]]*)\]")
_STALL = re.compile(r"\[stall=([0-9.]+)\]")
_LEAKY_TOPICS = ("customer", "account", "contact", "who is")


def _prompt(body: dict[str, Any]) -> str:
    if isinstance(body.get("messages"), list):
        return "\n".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
    prompt = body.get("prompt", "")
    return "\n".join(prompt) if isinstance(prompt, list) else str(prompt)


def answer(model: str, prompt: str) -> str:
    """What the demo model says to `prompt`."""
    said = _SAY.search(prompt)
    if said:
        return said.group(1)
    lowered = prompt.lower()
    if any(t in lowered for t in _LEAKY_TOPICS):
        return LEAK if "v2" in model else GOOD
    return f"Hello from {model}. You said: {prompt.strip()[:200]}"


def _words(text: str) -> list[str]:
    # Small chunks, split inside words too, so stream filters see values arrive in pieces.
    return [text[i : i + 7] for i in range(0, len(text), 7)] or [""]


def _error(status: int, message: str, code: str) -> Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _completion(request: Request, chat: bool) -> Response:
    key = request.app.state.api_key
    if key is not None and request.headers.get("authorization") != f"Bearer {key}":
        return _error(401, "Incorrect API key provided.", "invalid_api_key")
    try:
        raw = await request.body()
    except ClientDisconnect:
        # The caller went away mid-request (a gateway killed or timed out): nobody to answer.
        return Response(status_code=499)
    body = orjson.loads(raw)
    # Like OpenAI's API, refuse arguments it does not know (the gateway's own must not leak).
    unknown = sorted(k for k in body if k.startswith("defib"))
    if unknown:
        return _error(400, f"Unrecognized request argument supplied: {unknown[0]}", "bad_arg")
    model = str(body.get("model") or "demo")
    prompt = _prompt(body)
    slept = _SLEEP.search(prompt)
    if slept:
        await asyncio.sleep(float(slept.group(1)))
    text = answer(model, prompt)
    rid = uuid.uuid4().hex[:12]
    created = int(time.time())
    usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if body.get("stream") is True:
        stalled = _STALL.search(prompt)
        stall = float(stalled.group(1)) if stalled else 0.0
        return StreamingResponse(
            _stream(model, text, rid, created, chat, stall), media_type="text/event-stream"
        )
    if chat:
        out: dict[str, Any] = {
            "id": f"chatcmpl-{rid}",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
    else:
        out = {
            "id": f"cmpl-{rid}",
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
            "usage": usage,
        }
    return Response(orjson.dumps(out), media_type="application/json")


async def _stream(
    model: str, text: str, rid: str, created: int, chat: bool, stall: float = 0.0
) -> AsyncIterator[bytes]:
    def event(piece: str | None, finish: str | None, first: bool = False) -> bytes:
        if chat:
            delta: dict[str, Any] = {} if piece is None else {"content": piece}
            if first:
                delta["role"] = "assistant"
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
            obj = "chat.completion.chunk"
        else:
            choice = {"index": 0, "text": piece or "", "finish_reason": finish, "logprobs": None}
            obj = "text_completion"
        chunk = {"id": f"chatcmpl-{rid}", "object": obj, "created": created, "model": model}
        chunk["choices"] = [choice]
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    for i, piece in enumerate(_words(text)):
        yield event(piece, None, first=i == 0)
        await asyncio.sleep(stall if i == 0 else 0)
    yield event(None, "stop")
    yield b"data: [DONE]\n\n"


async def _chat(request: Request) -> Response:
    return await _completion(request, chat=True)


async def _completions(request: Request) -> Response:
    return await _completion(request, chat=False)


async def _models(request: Request) -> Response:
    data = [
        {"id": m, "object": "model", "created": 0, "owned_by": "demo"}
        for m in ("demo-v1", "demo-v2")
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


def create_app(api_key: str | None = None) -> Starlette:
    """The demo model's app; with `api_key`, completions require `Bearer <api_key>`."""
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", _chat, methods=["POST"]),
            Route("/v1/completions", _completions, methods=["POST"]),
            Route("/v1/models", _models, methods=["GET"]),
        ]
    )
    app.state.api_key = api_key
    return app


def start(host: str = "127.0.0.1", port: int = 0, api_key: str | None = None) -> ThreadedServer:
    """Serve the demo model in a background thread; `port=0` picks a free port."""
    if port == 0:
        from defib.testing import free_port

        port = free_port()
    return ThreadedServer(create_app(api_key), host, port).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    import uvicorn

    print(f"demo model on http://{args.host}:{args.port}/v1 (models demo-v1, demo-v2)")
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
