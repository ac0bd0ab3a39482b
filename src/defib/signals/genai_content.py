"""Message content of GenAI spans and events, wherever an instrumentation put it (pure).

Where instrumentations put message content, all read here:

- span attributes, current conventions: `gen_ai.input.messages`, `gen_ai.output.messages`,
  `gen_ai.system_instructions` (JSON text on spans, structured values on log events);
- older attributes: `gen_ai.prompt` / `gen_ai.completion` (text or JSON), OpenLLMetry's
  indexed `gen_ai.prompt.N.content` / `gen_ai.completion.N.content`, OpenInference's
  `input.value` / `output.value`;
- events (on the span, or as log records joined later by trace and span id):
  `gen_ai.content.prompt` / `gen_ai.content.completion`, `gen_ai.{system,user,assistant,
  tool}.message`, `gen_ai.choice`, `gen_ai.client.inference.operation.details`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from defib.signals.calls import clip, finish_reasons_of, loads_maybe, messages_text


def _indexed(attrs: Mapping[str, Any], prefix: str, roles: bool) -> str | None:
    """OpenLLMetry's `gen_ai.prompt.0.role` / `gen_ai.prompt.0.content` pairs, in order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, name = key[len(prefix) :].partition(".")
        if index.isdigit() and name in ("content", "role"):
            found.setdefault(int(index), {})[name] = value
    if not found:
        return None
    messages = [found[i] for i in sorted(found)]
    return messages_text(messages, roles=roles)


def joined(*parts: str | None) -> str | None:
    """The non-empty parts on separate lines, clipped; None when there are none."""
    texts = [p for p in parts if p]
    return clip("\n".join(texts)) if texts else None


def prompt_of(attrs: Mapping[str, Any]) -> str | None:
    """The prompt a span's attributes carry, system instructions first."""
    instructions = attrs.get("gen_ai.system_instructions")
    system = (
        messages_text(instructions, roles=False, default_role="system")
        if instructions is not None
        else None
    )
    for key in ("gen_ai.input.messages", "gen_ai.prompt"):
        if key in attrs:
            return joined(system and f"system: {system}", messages_text(attrs[key], roles=True))
    indexed = _indexed(attrs, "gen_ai.prompt.", roles=True)
    if indexed is not None:
        return indexed
    value = attrs.get("input.value")  # OpenInference
    return clip(value) if isinstance(value, str) else (system and f"system: {system}")


def output_of(attrs: Mapping[str, Any]) -> str | None:
    """The answer a span's attributes carry."""
    for key in ("gen_ai.output.messages", "gen_ai.completion"):
        if key in attrs:
            return messages_text(attrs[key], roles=False, default_role="assistant")
    indexed = _indexed(attrs, "gen_ai.completion.", roles=False)
    if indexed is not None:
        return indexed
    value = attrs.get("output.value")  # OpenInference
    return clip(value) if isinstance(value, str) else None


def event_content(
    name: str, attrs: Mapping[str, Any], body: object = None
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(prompt, output, finish reasons) one GenAI event carries, from its attributes or body."""
    if name == "gen_ai.client.inference.operation.details":
        return (
            prompt_of(attrs),
            output_of(attrs),
            finish_reasons_of(attrs.get("gen_ai.output.messages")),
        )
    if name == "gen_ai.content.prompt":
        value = attrs.get("gen_ai.prompt", body)
        return messages_text(value, roles=True), None, ()
    if name == "gen_ai.content.completion":
        value = attrs.get("gen_ai.completion", body)
        return None, messages_text(value, roles=False, default_role="assistant"), ()
    # Older per-message events: content in the body (log records) or in attributes (span
    # events cannot have a body; some instrumentations put it in `content` or `message`).
    payload = body if body is not None else _event_payload(attrs)
    if name == "gen_ai.choice":
        return None, messages_text(payload, roles=False), finish_reasons_of([payload])
    if name.startswith("gen_ai.") and name.endswith(".message"):
        role = name[len("gen_ai.") : -len(".message")]
        return messages_text(payload, roles=True, default_role=role), None, ()
    return None, None, ()


def _event_payload(attrs: Mapping[str, Any]) -> object:
    for key in ("gen_ai.event.content", "message", "content"):
        if key in attrs:
            value = loads_maybe(attrs[key])
            return {"content": value} if key == "content" and isinstance(value, str) else value
    return None
