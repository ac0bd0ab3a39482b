"""Relaying a streamed completion: straight through, or through the output filters.

Without filters the upstream's bytes go to the client as they arrive (a copy is kept for
capture and detection). With filters every SSE event is decoded, each choice's text is
fed to a `StreamGuard`, and the event is re-sent carrying only the text that is safe so
far; once the accumulated text violates a block filter the stream ends cleanly with a
closing chunk (`finish_reason: "content_filter"`) and `data: [DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from defib.gateway import protocol
from defib.gateway.filters import STREAM_CLOSING, FilterSet, StreamGuard


@dataclass
class FilteredStream:
    endpoint: str
    model: str
    request_id: str
    filters: FilterSet
    guards: dict[int, StreamGuard] = field(default_factory=dict)
    original: dict[int, list[str]] = field(default_factory=dict)
    template: dict[str, Any] | None = None
    blocked: bool = False
    done: bool = False

    def text(self) -> str:
        return "\n".join("".join(self.original[i]) for i in sorted(self.original))

    def hits(self) -> tuple[str, ...]:
        return tuple(sorted({h for g in self.guards.values() for h in g.hits}))

    def _guard(self, index: int) -> StreamGuard:
        guard = self.guards.get(index)
        if guard is None:
            guard = self.guards[index] = StreamGuard(self.filters)
        return guard

    def _close(self, index: int) -> list[bytes]:
        self.blocked = self.done = True
        closing = protocol.chunk(
            self.endpoint,
            self.model,
            STREAM_CLOSING,
            self.request_id,
            "content_filter",
            template=self.template,
            index=index,
        )
        return [protocol.sse_event(closing), protocol.sse_event(None)]

    def event(self, data: bytes) -> list[bytes]:
        """The events to send for one upstream event (nothing once the stream is over)."""
        if self.done:
            return []
        if data == protocol.DONE:
            return self.finish()
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [b"data: " + data + b"\n\n"]
        if not isinstance(obj, dict) or "error" in obj:
            return [b"data: " + data + b"\n\n"]
        self.template = obj
        texts = protocol.choice_texts(self.endpoint, obj)
        reasons = protocol.finish_reasons(obj)
        for index in sorted(set(texts) | set(reasons)):
            guard = self._guard(index)
            delta = texts.get(index, "")
            self.original.setdefault(index, []).append(delta)
            safe = guard.feed(delta)
            if index in reasons and not guard.blocked:
                safe += guard.finish()
            if guard.blocked:
                return self._close(index)
            if index in texts or safe:
                protocol.set_choice_text(self.endpoint, obj, index, safe, delta=True)
        return [protocol.sse_event(obj)]

    def finish(self) -> list[bytes]:
        """Flush what was held back, then `[DONE]` (or the closing chunk if it violates)."""
        if self.done:
            return []
        out: list[bytes] = []
        for index in sorted(self.guards):
            guard = self.guards[index]
            rest = guard.finish()
            if guard.blocked:
                return out + self._close(index)
            if rest:
                out.append(
                    protocol.sse_event(
                        protocol.chunk(
                            self.endpoint,
                            self.model,
                            rest,
                            self.request_id,
                            template=self.template,
                            index=index,
                        )
                    )
                )
        self.done = True
        return [*out, protocol.sse_event(None)]


async def filtered(source: AsyncIterator[bytes], stream: FilteredStream) -> AsyncIterator[bytes]:
    decoder = protocol.SseDecoder()
    async for part in source:
        for data in decoder.feed(part):
            for out in stream.event(data):
                yield out
            if stream.done:
                return
    for data in decoder.close():
        for out in stream.event(data):
            yield out
    for out in stream.finish():  # the upstream ended without [DONE]
        yield out
