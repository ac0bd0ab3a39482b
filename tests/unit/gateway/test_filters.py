"""Output filters from the system state, on whole answers and on streams."""

from __future__ import annotations

import itertools

from defib.gateway.demo_upstream import LEAK
from defib.gateway.filters import REFUSAL, STREAM_CLOSING
from defib.gateway.server import ThreadedServer
from defib.systems.state import FilterAction, FilterKind, OutputFilter
from tests.support.gateway import GatewayFactory, Running, system

ASK = [{"role": "user", "content": "who is the customer?"}]
SSN = "123-45-6789"
_ids = itertools.count()


def _add(gw: Running, *filters: OutputFilter) -> None:
    gw.wait_applied(gw.change("chat-api", lambda s: s.with_filters(filters)))


def _leaky(start_gateway: GatewayFactory, upstream: ThreadedServer) -> Running:
    return start_gateway([system("chat-api", upstream.url, active_version="v2")])


def _stream(gw: Running) -> tuple[str, list[str | None]]:
    chunks = list(
        gw.client("chat-api").chat.completions.create(model="m", messages=ASK, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, [c.choices[0].finish_reason for c in chunks if c.choices]


def test_pattern_filter_blocks_a_leaking_answer(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = _leaky(start_gateway, upstream)
    _add(gw, OutputFilter("ssn", FilterKind.PATTERN, pattern=r"\b\d{3}-\d{2}-\d{4}\b"))
    answer = gw.client("chat-api").chat.completions.create(model="m", messages=ASK)
    assert answer.choices[0].message.content == REFUSAL
    assert answer.choices[0].finish_reason == "content_filter"
    # Harmless answers are untouched.
    hello = gw.client("chat-api").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert hello.choices[0].message.content == "Hello from demo-v2. You said: hi"
    [blocked, passed] = gw.captures("chat-api")
    assert (blocked.blocked, passed.blocked) == (True, False)
    assert {"detector": "filter", "entity": "ssn", "count": 1} in blocked.findings


def test_detector_filter_stops_a_stream_before_the_value_leaves(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = _leaky(start_gateway, upstream)
    _add(gw, OutputFilter("pii", FilterKind.DETECTOR, detector="pii", threshold=0.5))
    text, reasons = _stream(gw)
    # The e-mail address (the first value) arrives split over several chunks: none of it
    # may reach the client, and the stream ends cleanly with the closing message.
    assert "jane" not in text.lower()
    assert "@" not in text
    assert SSN not in text
    # The name (the first value, a PERSON) stops it: what went out is a clean prefix.
    assert text.endswith(STREAM_CLOSING)
    assert LEAK.startswith(text[: -len(STREAM_CLOSING)])
    assert reasons[-1] == "content_filter"
    [capture] = gw.captures("chat-api")
    assert capture.streamed
    assert capture.blocked
    # The non-streamed answer is refused whole.
    answer = gw.client("chat-api").chat.completions.create(model="m", messages=ASK)
    assert answer.choices[0].message.content == REFUSAL


def test_redact_filters_mask_spans_in_answers_and_streams(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = _leaky(start_gateway, upstream)
    _add(
        gw,
        OutputFilter("pii", FilterKind.DETECTOR, FilterAction.REDACT, detector="pii"),
        OutputFilter("name", FilterKind.PATTERN, FilterAction.REDACT, pattern="on file"),
    )
    expected = (
        "Sure. The customer [REDACTED] is [PERSON], e-mail [EMAIL], phone [PHONE], SSN [US_SSN]."
    )
    answer = gw.client("chat-api").chat.completions.create(model="m", messages=ASK)
    assert answer.choices[0].message.content == expected
    assert answer.choices[0].finish_reason == "stop"
    text, reasons = _stream(gw)
    assert text == expected
    assert reasons[-1] == "stop"
    assert expected != LEAK  # the control: something was masked
