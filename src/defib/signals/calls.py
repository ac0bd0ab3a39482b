"""One model call as a signal source reported it, and the text helpers its readers share (pure).

Readers (OTLP spans and log events, LiteLLM payloads) only say what they saw: `output` is
None when the source captured no content (then only the SLOs learn from the call), and
`timed` is False when neither its duration nor its outcome is known (a log event alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import orjson

_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# What an OpenTelemetry SDK calls a service nobody named (`unknown_service:python`).
UNNAMED = "unknown_service"
MAX_TEXT = 100_000  # characters of one prompt, answer or context kept for detection


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One call to a model, read from a span, a log event or a LiteLLM payload."""

    system: str
    at: datetime
    duration_ms: float = 0.0
    trace_id: str | None = None
    span_id: str | None = None
    output: str | None = None
    prompt: str | None = None
    context: str | None = None
    error: bool = False
    status_code: int | None = None
    finish_reasons: tuple[str, ...] = ()
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    user: str | None = None
    # A short id of the caller's API key, when the source names one (LiteLLM's virtual
    # keys); the corroboration gate counts distinct keys.
    client: str | None = None
    timed: bool = True

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.trace_id, self.span_id) if self.trace_id and self.span_id else None

    @property
    def http_status(self) -> int:
        """The status the SLOs count: the source's own, else 500 for an error, else 200."""
        if self.status_code is not None:
            return self.status_code
        return 500 if self.error else 200

    def with_content(
        self, prompt: str | None, output: str | None, finish_reasons: tuple[str, ...] = ()
    ) -> ModelCall:
        """This call with content a separate event carried (the span's own wins)."""
        return replace(
            self,
            prompt=self.prompt if self.prompt is not None else prompt,
            output=self.output if self.output is not None else output,
            finish_reasons=self.finish_reasons or finish_reasons,
        )


def system_name(*candidates: object) -> str:
    """The first usable candidate as a defib system name (letters, digits, `.`, `_`, `-`)."""
    for value in candidates:
        if not isinstance(value, str) or not value.strip():
            continue
        name = value.strip()
        if name.startswith(UNNAMED):
            continue
        name = _NOT_IN_NAME.sub("-", name).strip("-")[:100]
        if name:
            return name
    return UNNAMED


def clip(text: str | None) -> str | None:
    return text[:MAX_TEXT] if text is not None else None


def _part_text(part: object) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, Mapping):
        return ""
    kind = part.get("type")
    if kind not in (None, "text", "output_text", "input_text", "reasoning"):
        return ""  # tool calls, images, blobs: nothing a text detector reads
    for field in ("content", "text"):
        value = part.get(field)
        if isinstance(value, str):
            return value
    return ""


def message_text(message: object) -> str:
    """The text of one message in any of the shapes instrumentations emit.

    GenAI conventions (`{"role", "parts": [{"type": "text", "content"}]}`), OpenAI's
    (`{"role", "content": str | [{"type": "text", "text"}]}`), a choice
    (`{"message": {...}}`), or a bare string.
    """
    if isinstance(message, str):
        return message
    if not isinstance(message, Mapping):
        return ""
    parts = message.get("parts")
    if isinstance(parts, list):
        return "\n".join(t for t in (_part_text(p) for p in parts) if t)
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(t for t in (_part_text(p) for p in content) if t)
    inner = message.get("message")
    if isinstance(inner, Mapping):
        return message_text(inner)
    text = message.get("text")
    return text if isinstance(text, str) else ""


def _role(message: object, default: str) -> str:
    if isinstance(message, Mapping):
        role = message.get("role")
        if isinstance(role, str) and role:
            return role
        inner = message.get("message")
        if isinstance(inner, Mapping):
            return _role(inner, default)
    return default


def loads_maybe(value: object) -> object:
    """A JSON string parsed (spans carry structured values as JSON text), else as given."""
    if isinstance(value, str | bytes) and value[:1] in ("[", "{", b"[", b"{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def messages_text(value: object, *, roles: bool, default_role: str = "user") -> str | None:
    """Messages (a list, one message, or their JSON) as text: `role: text` lines with
    `roles` (the gateway's prompt format), else the texts alone. None when nothing."""
    value = loads_maybe(value)
    items: Iterable[object] = value if isinstance(value, list) else [value]
    lines = []
    for m in items:
        text = message_text(m)
        if text:
            lines.append(f"{_role(m, default_role)}: {text}" if roles else text)
    return clip("\n".join(lines)) if lines else None


def finish_reasons_of(value: object) -> tuple[str, ...]:
    value = loads_maybe(value)
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for m in items:
        reason = m.get("finish_reason") if isinstance(m, Mapping) else None
        if isinstance(reason, str) and reason:
            out.append(reason)
    return tuple(out)


def documents_text(value: object) -> str | None:
    """Retrieval context: a string, or documents as strings or `{content|text|page_content}`."""
    value = loads_maybe(value)
    if isinstance(value, str):
        return clip(value) or None
    if not isinstance(value, list | tuple):
        value = [value]
    texts = []
    for doc in value:
        if isinstance(doc, str):
            texts.append(doc)
        elif isinstance(doc, Mapping):
            for field in ("content", "text", "page_content", "document"):
                inner = doc.get(field)
                if isinstance(inner, str):
                    texts.append(inner)
                    break
    joined = "\n\n".join(t for t in texts if t)
    return clip(joined) or None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None
