"""Join GenAI log events to their spans by trace and span id (pure; the caller passes time).

With content capture `event_only`, the span carries duration, status and usage, and log
records carry the messages; an SDK exports the two on separate schedules (logs usually
first), so either may arrive first. A span without content waits up to `hold_seconds` for
its events; events wait up to `keep_seconds` for their span. Whatever times out is released
as it is: a span alone still feeds the SLOs, events alone are still inspected (untimed).

Memory is bounded: at most `max_entries` spans and as many event groups are held; past
that the oldest is released early (a span) or dropped (events, counted in `dropped`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from defib.signals.calls import ModelCall
from defib.signals.otlp import ContentEvent

Key = tuple[str, str]


@dataclass(slots=True)
class _Pending:
    """Events of one span, merged in arrival order."""

    first: ContentEvent
    deadline: float
    prompt: str | None = None
    output: str | None = None
    finish_reasons: tuple[str, ...] = ()

    def add(self, event: ContentEvent) -> None:
        if event.prompt:
            self.prompt = f"{self.prompt}\n{event.prompt}" if self.prompt else event.prompt
        if event.output:
            self.output = f"{self.output}\n{event.output}" if self.output else event.output
        self.finish_reasons = self.finish_reasons or event.finish_reasons

    def alone(self) -> ModelCall:
        """The events as a call of their own: inspected, but counting for no SLO."""
        e = self.first
        return ModelCall(
            system=e.system,
            at=e.at,
            trace_id=e.trace_id,
            span_id=e.span_id,
            prompt=self.prompt,
            output=self.output,
            finish_reasons=self.finish_reasons,
            model=e.model,
            timed=False,
        )


@dataclass
class Joiner:
    hold_seconds: float = 5.0
    keep_seconds: float = 30.0
    max_entries: int = 10_000
    dropped: int = 0
    # A held span, and the events that came for it so far (prompt messages, say).
    _spans: OrderedDict[Key, tuple[float, ModelCall, _Pending | None]] = field(
        default_factory=OrderedDict
    )
    _events: OrderedDict[Key, _Pending] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._spans) + len(self._events)

    def span(self, call: ModelCall, now: float) -> list[ModelCall]:
        """Calls ready now: this one when it has content or its events came first."""
        key = call.key
        if key is None:
            return [call]
        pending = self._events.pop(key, None)
        if pending is not None:
            return [call.with_content(pending.prompt, pending.output, pending.finish_reasons)]
        if call.output is not None:
            return [call]
        ready = []
        if len(self._spans) >= self.max_entries:
            ready.append(_release(self._spans.popitem(last=False)[1]))
        self._spans[key] = (now + self.hold_seconds, call, None)
        return ready

    def event(self, event: ContentEvent, now: float) -> list[ModelCall]:
        """Calls ready now: the held span this event completes, if it carries the answer."""
        key = event.key
        if key is None:
            alone = _Pending(event, now)
            alone.add(event)
            return [alone.alone()] if alone.output else []
        held = self._spans.get(key)
        if held is not None:
            deadline, call, so_far = held
            joined = so_far or _Pending(event, deadline)
            joined.add(event)
            if joined.output is None:  # a prompt event: the answer is still to come
                self._spans[key] = (deadline, call, joined)
                return []
            del self._spans[key]
            return [_release((deadline, call, joined))]
        found = self._events.get(key)
        if found is not None:
            found.add(event)
            return []
        if len(self._events) >= self.max_entries:
            self._events.popitem(last=False)
            self.dropped += 1
        pending = self._events[key] = _Pending(event, now + self.keep_seconds)
        pending.add(event)
        return []

    def expire(self, now: float) -> list[ModelCall]:
        """Spans whose events did not come, and events whose span did not."""
        ready = []
        # Insertion order is deadline order: every entry waits the same time.
        while self._spans:
            key, held = next(iter(self._spans.items()))
            if held[0] > now:
                break
            del self._spans[key]
            ready.append(_release(held))
        while self._events:
            key, pending = next(iter(self._events.items()))
            if pending.deadline > now:
                break
            del self._events[key]
            if pending.output:
                ready.append(pending.alone())
        return ready

    def flush(self) -> list[ModelCall]:
        """Everything held, released now (shutdown)."""
        ready = [_release(held) for held in self._spans.values()]
        ready += [p.alone() for p in self._events.values() if p.output]
        self._spans.clear()
        self._events.clear()
        return ready


def _release(held: tuple[float, ModelCall, _Pending | None]) -> ModelCall:
    _, call, pending = held
    if pending is None:
        return call
    return call.with_content(pending.prompt, pending.output, pending.finish_reasons)
