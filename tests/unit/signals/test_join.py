"""Joining GenAI log events to their spans (pure): whichever comes first, within bounds."""

from __future__ import annotations

from datetime import UTC, datetime

from defib.signals.calls import ModelCall
from defib.signals.join import Joiner
from defib.signals.otlp import ContentEvent

AT = datetime(2026, 12, 1, tzinfo=UTC)


def span(n: int = 1, output: str | None = None) -> ModelCall:
    return ModelCall("bot", AT, 900.0, trace_id="t", span_id=f"s{n}", output=output)


def event(n: int = 1, prompt: str | None = None, output: str | None = None) -> ContentEvent:
    return ContentEvent("bot", AT, "t", f"s{n}", prompt=prompt, output=output)


def test_a_span_with_content_is_ready_at_once() -> None:
    j = Joiner()
    assert j.span(span(output="A."), 0.0) == [span(output="A.")]
    assert len(j) == 0


def test_events_that_came_first_complete_the_span() -> None:
    j = Joiner()
    assert j.event(event(prompt="user: Q?"), 0.0) == []
    assert j.event(event(output="A."), 0.1) == []
    [call] = j.span(span(), 0.2)
    assert (call.prompt, call.output, call.duration_ms, call.timed) == ("user: Q?", "A.", 900, True)
    assert len(j) == 0


def test_a_held_span_waits_for_the_answer_not_just_the_prompt() -> None:
    j = Joiner()
    assert j.span(span(), 0.0) == []
    assert j.event(event(prompt="system: be nice"), 0.1) == []
    assert j.event(event(prompt="user: Q?"), 0.2) == []
    [call] = j.event(event(output="A."), 0.3)
    assert call.prompt == "system: be nice\nuser: Q?"
    assert call.output == "A."


def test_what_waits_too_long_is_released_as_it_is() -> None:
    """A span alone still feeds the SLOs; events alone are inspected but untimed."""
    j = Joiner(hold_seconds=5, keep_seconds=30)
    j.span(span(1), 0.0)
    j.event(event(2, output="A."), 0.0)
    assert j.expire(4.9) == []
    [alone_span] = j.expire(5.0)
    assert alone_span.span_id == "s1" and alone_span.output is None
    [alone_events] = j.expire(30.0)
    assert (alone_events.span_id, alone_events.output, alone_events.timed) == ("s2", "A.", False)
    assert len(j) == 0


def test_memory_is_bounded() -> None:
    j = Joiner(max_entries=3)
    released = [c for n in range(5) for c in j.span(span(n), float(n))]
    assert [c.span_id for c in released] == ["s0", "s1"]  # oldest released early
    for n in range(10, 15):
        j.event(event(n, output="x"), 0.0)
    assert j.dropped == 2
    assert len(j) == 6
    assert len(j.flush()) == 6 and len(j) == 0
