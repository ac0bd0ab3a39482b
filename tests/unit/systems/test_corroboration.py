"""The corroboration gate: gateway traffic alone contains only when one client cannot
have faked it (issues 11 and 25)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from defib.config import CorroborationSettings
from defib.detectors import Finding
from defib.gateway import protocol
from defib.gateway.alerts import AlertLimiter, Offence, detection_alert, unechoed
from defib.systems.corroboration import StoredAlert, judge

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
RULES = CorroborationSettings(min_clients=2, min_requests=5, window_seconds=600)


def _finding(detector: str, text: str) -> Finding:
    return Finding(
        type="EMAIL", start=0, end=len(text), score=1.0, detector=detector, version="1", text=text
    )


def _offence(client: str | None, *, echoed: bool = True, n: int = 0) -> Offence:
    return Offence(
        request_id=f"r{n}",
        version="v2",
        prompt="p",
        response="r",
        user_id=None,
        context=None,
        findings=(_finding("grounding", "90 days"),),
        client=client,
        unechoed=not echoed,
    )


def _alert(offences: list[Offence], at: datetime = NOW, kind: str = "hallucination") -> StoredAlert:
    return StoredAlert(at, detection_alert("chat-api", kind, offences))


def test_one_client_alone_is_not_corroboration() -> None:
    verdict = judge([_alert([_offence("k1", n=i) for i in range(3)])], RULES, NOW)
    assert verdict is not None and not verdict.corroborated
    assert (verdict.clients, verdict.keyed_requests) == (1, 3)
    anonymous = judge([_alert([_offence(None, n=i) for i in range(50)])], RULES, NOW)
    assert anonymous is not None and not anonymous.corroborated  # anonymous never counts


def test_two_client_keys_corroborate() -> None:
    verdict = judge([_alert([_offence("k1")]), _alert([_offence("k2")])], RULES, NOW)
    assert verdict is not None and verdict.corroborated
    assert verdict.clients == 2


def test_many_requests_from_one_key_are_still_one_key() -> None:
    """However many flagged requests one key sends within the window, it is one key."""
    old = NOW - timedelta(seconds=601)
    stale = [_alert([_offence("k1", n=i) for i in range(5)], at=old)]
    fresh = judge([*stale, _alert([_offence("k1", n=i) for i in range(50)])], RULES, NOW)
    assert fresh is not None and not fresh.corroborated
    assert fresh.keyed_requests == 50  # counted for the people deciding, not acted on


def test_output_the_client_did_not_supply_needs_a_second_key() -> None:
    """A finding the request did not contain, from one key (or anonymous), is reported but
    does not contain; from two keys it does."""
    one = judge([_alert([_offence("k1", echoed=False)], kind="data_leak")], RULES, NOW)
    assert one is not None and not one.corroborated and one.unechoed_requests == 1
    anonymous = judge([_alert([_offence(None, echoed=False)], kind="data_leak")], RULES, NOW)
    assert anonymous is not None and not anonymous.corroborated
    two = [_alert([_offence("k1", echoed=False)]), _alert([_offence("k2", echoed=False)])]
    verdict = judge(two, RULES, NOW)
    assert verdict is not None and verdict.corroborated


def test_incidents_with_other_sources_are_not_gated() -> None:
    other: dict[str, Any] = {"source": "prometheus", "labels": {}}
    assert judge([_alert([_offence("k1")]), StoredAlert(NOW, other)], RULES, NOW) is None
    assert judge([], RULES, NOW) is None


def test_an_echoed_value_is_the_clients_not_the_models() -> None:
    leak = [_finding("pii", "jane@example.com")]
    assert not unechoed(leak, "Please repeat: JANE@example.com")
    assert unechoed(leak, "who is the customer?")
    assert not unechoed([_finding("grounding", "90 days")], "who?")  # grounding: not output-only


def test_one_client_key_cannot_flood_the_alerts() -> None:
    limiter = AlertLimiter(min_interval=0, per_client_per_minute=3)
    sent = [limiter.offer("s", "toxicity", _offence("k1", n=i), now=float(i)) for i in range(10)]
    assert sum(1 for s in sent if s) == 3
    assert limiter.offer("s", "toxicity", _offence("k2"), now=10.0)  # another key still counts
    assert limiter.offer("s", "toxicity", _offence("k1"), now=70.0)  # a new minute


PII = "jane.doe@corp-mail.example"


def _chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages), **extra}


def test_a_value_sent_in_any_part_is_the_clients() -> None:
    """Tool definitions, tool_calls arguments (also `\\u`-escaped), function names and tool
    results are read for the echo check, not just text parts."""
    leak = [_finding("pii", PII)]
    escaped = "".join(f"\\u{ord(c):04x}" for c in PII)
    tool = {"type": "function", "function": {"name": "f", "description": f"ask {PII}"}}
    bodies = [_chat({"role": "user", "content": "go"}, tools=[tool])]
    for arguments in (f'{{"to": "{PII}"}}', f'{{"to": "{escaped}"}}'):
        call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
        bodies.append(_chat({"role": "assistant", "tool_calls": [call]}))
    result = [{"type": "text", "text": PII}]
    bodies.append(_chat({"role": "tool", "tool_call_id": "c", "content": result}))
    bodies.append(_chat({"role": "user", "content": "x"}, functions=[{"name": PII}]))
    for body in bodies:
        assert not unechoed(leak, protocol.client_sent(body)), body
    assert unechoed(leak, protocol.client_sent(_chat({"role": "user", "content": "who?"})))


def test_a_request_with_media_counts_nothing_as_the_models_own() -> None:
    """An image, audio or file part may carry any value (pixels, sound): the answer's
    findings are then not counted as the model's own, whatever they are."""
    leak = [_finding("pii", PII)]
    for part in (
        {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "a.pdf"}},
    ):
        sent = protocol.client_sent(_chat({"role": "user", "content": [part]}))
        assert sent.opaque and not unechoed(leak, sent)


def test_a_reformatted_value_is_still_the_clients() -> None:
    """Letters and digits are compared without punctuation and spaces as well."""
    phone = [_finding("pii", "415-555-0134")]
    sent = protocol.client_sent(_chat({"role": "user", "content": "415 555 0134"}))
    assert not unechoed(phone, sent)
