"""The OpenAI wire format, as far as the gateway reads and writes it (pure).

Two endpoints: `chat.completions` (messages in, `message.content` / `delta.content` out) and
`completions` (`prompt` in, `text` out). Only what capture, filters and detection need is
interpreted; everything else passes through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

CHAT = "chat.completions"
COMPLETIONS = "completions"
ENDPOINTS = (CHAT, COMPLETIONS)

# The request field that carries grounding context (`extra_body={"defib_context": ...}` in
# the OpenAI client). The gateway strips it before forwarding: upstreams may reject it.
CONTEXT_FIELD = "defib_context"


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": "..."}, {"type": "image_url"}]
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def prompt_text(endpoint: str, body: Mapping[str, Any]) -> str:
    """The prompt as one text: chat messages as `role: content` lines."""
    if endpoint == CHAT:
        messages = body.get("messages")
        if not isinstance(messages, list):
            return ""
        return "\n".join(
            f"{m.get('role', '')}: {_content_text(m.get('content'))}"
            for m in messages
            if isinstance(m, dict)
        )
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        return "\n".join(p for p in prompt if isinstance(p, str))
    return prompt if isinstance(prompt, str) else ""


# Content parts whose substance is not text defib reads (pixels, sound, a document): what
# the client put there cannot be told apart from what the model made up.
OPAQUE_PARTS = frozenset(
    {"image_url", "image", "input_image", "input_audio", "audio", "file", "input_file"}
)
_MAX_WALK = 10_000


@dataclass(frozen=True, slots=True)
class Sent:
    """Everything a client sent, for the echo check: every string anywhere in the request
    (messages of every role and part type, tool definitions, tool_calls arguments and
    function names, tool results, context, object keys, decoded JSON strings), and whether
    some part was media whose content is not text."""

    text: str
    opaque: bool


def client_sent(body: Mapping[str, Any]) -> Sent:
    """What the client sent, whatever the endpoint and part type."""
    texts: list[str] = []
    opaque = False
    stack: list[object] = [body]
    seen = 0
    while stack and seen < _MAX_WALK:
        item = stack.pop()
        seen += 1
        if isinstance(item, str):
            texts.append(item)
            decoded = _embedded_json(item)
            if decoded is not None:
                stack.append(decoded)
        elif isinstance(item, Mapping):
            if item.get("type") in OPAQUE_PARTS or any(k in OPAQUE_PARTS for k in item):
                opaque = True
            for key, value in item.items():
                texts.append(str(key))
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None:
            texts.append(str(item))
    # A request too deep or wide to read in full may hide anything in the rest.
    return Sent("\n".join(texts), opaque or bool(stack))


def _embedded_json(text: str) -> object | None:
    """tool_calls arguments are JSON inside a string, where `\\u` escapes can hide values."""
    head = text.lstrip()[:1]
    if head not in ("{", "[") or len(text) > 1_000_000:
        return None
    try:
        decoded: object = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return decoded


def context_text(body: Mapping[str, Any]) -> str | None:
    """Grounding context from `defib_context` (a string or a list of strings)."""
    value = body.get(CONTEXT_FIELD)
    if isinstance(value, str):
        return value or None
    if isinstance(value, list):
        joined = "\n\n".join(v for v in value if isinstance(v, str))
        return joined or None
    return None


def user_of(body: Mapping[str, Any], header: str | None) -> str | None:
    user = body.get("user")
    if isinstance(user, str) and user:
        return user[:200]
    return header[:200] if header else None


def _choices(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    choices = obj.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def choice_texts(endpoint: str, obj: Mapping[str, Any]) -> dict[int, str]:
    """index -> text of a completion or of one streamed chunk (`delta.content`)."""
    out: dict[int, str] = {}
    for i, c in enumerate(_choices(obj)):
        index = c.get("index", i)
        idx = index if isinstance(index, int) else i
        if endpoint == CHAT:
            part = c.get("message") or c.get("delta") or {}
            text = part.get("content") if isinstance(part, dict) else None
        else:
            text = c.get("text")
        if isinstance(text, str):
            out[idx] = text
    return out


def set_choice_text(
    endpoint: str, obj: dict[str, Any], index: int, text: str, *, delta: bool
) -> None:
    for i, c in enumerate(_choices(obj)):
        if c.get("index", i) != index:
            continue
        if endpoint == COMPLETIONS:
            c["text"] = text
        else:
            key = "delta" if delta else "message"
            part = c.get(key)
            if not isinstance(part, dict):
                part = c[key] = {"role": "assistant"} if not delta else {}
            part["content"] = text


def finish_reasons(obj: Mapping[str, Any]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i, c in enumerate(_choices(obj)):
        reason = c.get("finish_reason")
        if isinstance(reason, str):
            index = c.get("index", i)
            out[index if isinstance(index, int) else i] = reason
    return out


def set_finish_reason(obj: dict[str, Any], index: int, reason: str) -> None:
    for i, c in enumerate(_choices(obj)):
        if c.get("index", i) == index:
            c["finish_reason"] = reason


def response_text(endpoint: str, obj: Mapping[str, Any]) -> str:
    texts = choice_texts(endpoint, obj)
    return "\n".join(texts[i] for i in sorted(texts))


# -- server-sent events ------------------------------------------------------------------


class SseDecoder:
    """Splits a byte stream into SSE `data:` payloads, whatever the chunk boundaries."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._buffer += chunk
        while True:
            nl = self._buffer.find(b"\n")
            if nl < 0:
                return
            line = self._buffer[:nl].rstrip(b"\r")
            self._buffer = self._buffer[nl + 1 :]
            if not line:
                if self._data:
                    yield b"\n".join(self._data)
                    self._data = []
            elif line.startswith(b"data:"):
                self._data.append(line[5:].lstrip(b" "))

    def close(self) -> Iterator[bytes]:
        if self._buffer.startswith(b"data:"):
            self._data.append(self._buffer[5:].strip())
        self._buffer = b""
        if self._data:
            yield b"\n".join(self._data)
            self._data = []


DONE = b"[DONE]"


def sse_event(obj: Mapping[str, Any] | None) -> bytes:
    """One SSE event; None is the `[DONE]` terminator."""
    if obj is None:
        return b"data: [DONE]\n\n"
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def streamed_text(endpoint: str, raw: bytes) -> str:
    """The whole text of a recorded SSE stream (choice 0 first, then the others)."""
    decoder = SseDecoder()
    parts: dict[int, list[str]] = {}
    for data in [*decoder.feed(raw), *decoder.close()]:
        if data == DONE:
            continue
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            for idx, text in choice_texts(endpoint, obj).items():
                parts.setdefault(idx, []).append(text)
    return "\n".join("".join(parts[i]) for i in sorted(parts))


# -- answers the gateway writes itself ---------------------------------------------------


def completion(endpoint: str, model: str, text: str, request_id: str) -> dict[str, Any]:
    """A complete (non-streamed) answer carrying `text`, e.g. the kill switch's fallback."""
    created = int(time.time())
    if endpoint == CHAT:
        return {
            "id": f"chatcmpl-defib-{request_id}",
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
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    return {
        "id": f"cmpl-defib-{request_id}",
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def chunk(
    endpoint: str,
    model: str,
    text: str,
    request_id: str,
    finish_reason: str | None = None,
    *,
    template: Mapping[str, Any] | None = None,
    index: int = 0,
) -> dict[str, Any]:
    """One streamed chunk carrying `text` (ids copied from `template` when given)."""
    base = dict(template) if template is not None else {}
    prefix = "chatcmpl" if endpoint == CHAT else "cmpl"
    out: dict[str, Any] = {
        "id": base.get("id", f"{prefix}-defib-{request_id}"),
        "object": "chat.completion.chunk" if endpoint == CHAT else "text_completion",
        "created": base.get("created", int(time.time())),
        "model": base.get("model", model),
    }
    if endpoint == CHAT:
        choice: dict[str, Any] = {"index": index, "delta": {"content": text}}
    else:
        choice = {"index": index, "text": text, "logprobs": None}
    choice["finish_reason"] = finish_reason
    out["choices"] = [choice]
    return out


def fallback_stream(endpoint: str, model: str, text: str, request_id: str) -> list[bytes]:
    first = chunk(endpoint, model, text, request_id)
    if endpoint == CHAT:
        first["choices"][0]["delta"]["role"] = "assistant"
    return [
        sse_event(first),
        sse_event(chunk(endpoint, model, "", request_id, "stop")),
        sse_event(None),
    ]
