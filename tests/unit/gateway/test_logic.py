"""The gateway's pure parts: routing, filters on streams, the SSE decoder, the alert limit."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from defib.config import SystemConfig
from defib.gateway import protocol
from defib.gateway.alerts import AlertLimiter, Offence
from defib.gateway.filters import FilterSet, StreamGuard
from defib.gateway.routing import Directory, FallbackMessage, Refusal, Upstream, route
from defib.systems.state import FilterAction, FilterKind, OutputFilter, SystemState

LEAK = "Write to jane.doe@example.com or call +1 415 555 0132 today, SSN 123-45-6789."


def _system(**gateway: object) -> SystemConfig:
    return SystemConfig.model_validate(
        {
            "name": "chat",
            "versions": [
                {"name": "v1", "upstream": "http://127.0.0.1:1/v1"},
                {"name": "v2", "upstream": "http://127.0.0.1:2/v1"},
            ],
            "gateway": gateway,
        }
    )


def test_route_follows_the_state() -> None:
    system = _system()
    assert route(system, None, probe=False) == Upstream(system.versions[1])
    rolled = SystemState("chat", active_version="v1")
    assert route(system, rolled, probe=False) == Upstream(system.versions[0])
    off = SystemState("chat", disabled=True, active_version="v1")
    refused = route(system, off, probe=False)
    assert isinstance(refused, Refusal)
    assert (refused.status, refused.code) == (503, "system_disabled")
    assert route(system, off, probe=True) == Upstream(system.versions[0])
    assert route(_system(fallback_message="paused"), off, probe=False) == FallbackMessage("paused")
    to_v2 = route(_system(fallback_version="v2"), off, probe=False)
    assert to_v2 == Upstream(_system().versions[1], fallback=True)


def test_directory_selects_by_route_and_key() -> None:
    key_hash = hashlib.sha256(b"secret").hexdigest()
    locked = _system(api_key_hashes=[key_hash.upper()])
    d = Directory.build([locked])
    assert d.select("chat", "secret") is locked
    assert d.select(None, "secret") is locked
    assert isinstance(d.select("chat", None), Refusal)
    assert isinstance(d.select(None, "other"), Refusal)
    assert d.select("chat", None, probe=True) is locked
    missing = d.select("nope", "secret")
    assert isinstance(missing, Refusal)
    assert missing.status == 404
    open_ = Directory.build([_system()], allow_anonymous=True)
    assert open_.select(None, None).name == "chat"  # type: ignore[union-attr]


def test_a_system_without_keys_is_refused_unless_anonymous_is_allowed() -> None:
    """Secure default (issue 11): no keys configured means nobody, not everybody."""
    closed = Directory.build([_system()])
    for name in ("chat", None):
        refused = closed.select(name, None)
        assert isinstance(refused, Refusal)
        assert (refused.status, refused.code) == (401, "invalid_api_key")
        assert isinstance(closed.select(name, "any-key"), Refusal)
    assert closed.select("chat", None, probe=True).name == "chat"  # type: ignore[union-attr]


def _block_pii() -> FilterSet:
    return FilterSet.build([OutputFilter("pii", FilterKind.DETECTOR, detector="pii")])


@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=40))
def test_a_blocked_stream_never_sends_any_part_of_a_value(sizes: list[int]) -> None:
    guard = StreamGuard(_block_pii())
    sent, pos, i = "", 0, 0
    while pos < len(LEAK) and not guard.blocked:
        size = sizes[i % len(sizes)]
        sent += guard.feed(LEAK[pos : pos + size])
        pos += size
        i += 1
    sent += guard.finish()
    assert guard.blocked
    assert "jane" not in sent
    assert "@" not in sent
    assert LEAK.startswith(sent)


@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=40))
def test_a_redacted_stream_equals_the_redacted_whole(sizes: list[int]) -> None:
    filters = FilterSet.build(
        [OutputFilter("pii", FilterKind.DETECTOR, FilterAction.REDACT, detector="pii")]
    )
    whole, scan = filters.apply(LEAK)
    assert not scan.blocked
    guard = StreamGuard(filters)
    sent, pos, i = "", 0, 0
    while pos < len(LEAK):
        size = sizes[i % len(sizes)]
        sent += guard.feed(LEAK[pos : pos + size])
        pos += size
        i += 1
    sent += guard.finish()
    assert sent == whole
    assert "[EMAIL]" in whole
    assert "123-45-6789" not in whole


def test_clean_text_streams_through_unchanged() -> None:
    guard = StreamGuard(_block_pii())
    text = "The weather is fine today and nothing here is personal. " * 5
    sent = "".join(guard.feed(text[i : i + 5]) for i in range(0, len(text), 5))
    assert len(sent) > 0  # released while streaming, not only at the end
    assert sent + guard.finish() == text


@pytest.mark.parametrize("split", [1, 2, 3, 7, 50])
def test_sse_decoder_handles_any_chunking(split: int) -> None:
    raw = b'data: {"a": 1}\n\ndata: {"b":\r\n\r\n: comment\n\ndata: [DONE]\n\n'
    decoder = protocol.SseDecoder()
    events = [e for i in range(0, len(raw), split) for e in decoder.feed(raw[i : i + split])]
    events += list(decoder.close())
    assert events == [b'{"a": 1}', b'{"b":', b"[DONE]"]


def test_prompt_and_context_conventions() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]},
        ],
        "defib_context": ["doc one", "doc two"],
        "user": "u1",
    }
    assert protocol.prompt_text(protocol.CHAT, body) == "system: be nice\nuser: hi"
    assert protocol.context_text(body) == "doc one\n\ndoc two"
    assert protocol.user_of(body, "header-user") == "u1"
    assert protocol.user_of({}, "header-user") == "header-user"
    assert protocol.prompt_text(protocol.COMPLETIONS, {"prompt": ["a", "b"]}) == "a\nb"


def _offence(rid: str) -> Offence:
    return Offence(rid, "v2", "p", "r", None, None, ())


def test_alert_limiter_one_per_interval_carrying_what_it_held() -> None:
    limiter = AlertLimiter(min_interval=60)
    assert [o.request_id for o in limiter.offer("s", "data_leak", _offence("a"), 0)] == ["a"]
    assert limiter.offer("s", "data_leak", _offence("b"), 10) == []
    assert [o.request_id for o in limiter.offer("s", "toxicity", _offence("c"), 10)] == ["c"]
    later = limiter.offer("s", "data_leak", _offence("d"), 61)
    assert [o.request_id for o in later] == ["b", "d"]


def test_key_hashes_must_be_sha256_digests() -> None:
    from defib.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"systems\.0\.gateway\.api_key_hashes"):
        load_settings(None, systems=[{"name": "a", "gateway": {"api_key_hashes": ["sk-key"]}}])
    digest = hashlib.sha256(b"k").hexdigest()
    ok = load_settings(
        None, systems=[{"name": "a", "gateway": {"api_key_hashes": [digest.upper()]}}]
    )
    assert ok.systems[0].gateway.api_key_hashes == [digest]
