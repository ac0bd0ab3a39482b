"""The gateway as an OpenAI-compatible proxy: the official client, both endpoints, streams,
system selection by route and by API key, and upstream failures."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

import httpx
import openai
import pytest

from defib.bootstrap import Runtime
from defib.gateway import demo_upstream
from defib.gateway.demo_upstream import LEAK
from defib.gateway.proxy import Gateway, alert_sink
from defib.gateway.server import ThreadedServer
from defib.testing import free_port
from tests.support.gateway import GatewayFactory, sqlite_only, system

pytestmark = sqlite_only  # nothing here depends on the database beyond reading state


def test_chat_completion_and_stream_through_the_gateway(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway([system("chat-api", upstream.url, active_version="v1")])
    client = gw.client("chat-api")
    messages = [{"role": "user", "content": "hello there"}]

    answer = client.chat.completions.create(model="chat-api", messages=messages)
    assert answer.model == "demo-v1"  # the active version's model was sent upstream
    assert answer.choices[0].message.content == "Hello from demo-v1. You said: hello there"

    chunks = list(client.chat.completions.create(model="chat-api", messages=messages, stream=True))
    assert len(chunks) > 3  # passed through chunk by chunk, not buffered into one
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answer.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_completions_models_and_health(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway([system("chat-api", upstream.url, active_version="v2")])
    client = gw.client()  # plain /v1: the only system, no keys configured
    done = client.completions.create(model="chat-api", prompt="ping")
    assert done.choices[0].text == "Hello from demo-v2. You said: ping"
    streamed = "".join(
        c.choices[0].text for c in client.completions.create(model="x", prompt="ping", stream=True)
    )
    assert streamed == done.choices[0].text
    assert [m.id for m in client.models.list()] == ["chat-api"]
    assert [m.id for m in gw.client("chat-api").models.list()] == ["chat-api"]
    health = httpx.get(f"{gw.url}/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    for method, path, status in [
        ("GET", "/v1/chat/completions", 405),
        ("POST", "/v2/chat/completions", 404),
        ("POST", "/systems//v1/chat/completions", 404),
    ]:
        answer = httpx.request(method, f"{gw.url}{path}", json={})
        assert answer.status_code == status
        assert "message" in answer.json()["error"]
    bad = httpx.post(f"{gw.url}/v1/chat/completions", content=b"[1, 2]")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_json")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_api_key_selects_the_system_and_a_wrong_key_is_refused(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    url = upstream.url
    gw = start_gateway(
        [
            system("support", url, active_version="v1", gateway={"api_key_hashes": [_hash("k-a")]}),
            system("sales", url, active_version="v2", gateway={"api_key_hashes": [_hash("k-b")]}),
        ]
    )
    ask = [{"role": "user", "content": "hi"}]
    a = gw.client(key="k-a").chat.completions.create(model="m", messages=ask)
    b = gw.client(key="k-b").chat.completions.create(model="m", messages=ask)
    assert (a.model, b.model) == ("demo-v1", "demo-v2")
    with pytest.raises(openai.AuthenticationError) as wrong:
        gw.client(key="k-c").chat.completions.create(model="m", messages=ask)
    assert wrong.value.status_code == 401
    assert wrong.value.code == "invalid_api_key"
    # The route names the system, and that system requires one of its own keys.
    with pytest.raises(openai.AuthenticationError):
        gw.client("support", key="k-b").chat.completions.create(model="m", messages=ask)
    ok = gw.client("support", key="k-a").chat.completions.create(model="m", messages=ask)
    assert ok.model == "demo-v1"
    with pytest.raises(openai.NotFoundError):
        gw.client("nope", key="k-a").chat.completions.create(model="m", messages=ask)


def test_upstream_timeout_is_504_and_unreachable_is_502(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    slow = system("slow", upstream.url, active_version="v1", gateway={"timeout_seconds": 0.3})
    down = {"name": "down", "versions": [{"name": "v1", "upstream": dead}]}
    gw = start_gateway([slow, down])
    with pytest.raises(openai.APIStatusError) as timed_out:
        gw.client("slow").chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "[sleep=3] take your time"}],
        )
    assert timed_out.value.status_code == 504
    assert timed_out.value.code == "upstream_timeout"
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as unreachable:
            gw.client("down").chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=stream
            )
        assert unreachable.value.status_code == 502
        assert unreachable.value.code == "upstream_unavailable"
    # Both count as availability events for the SLO evaluators.
    assert gw.gateway.post.drain()
    available, _ = gw.gateway.post.slos["down"]
    assert available.burn_rate(300, time.time()) > 0


def test_pii_leak_passes_without_filters(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    """The control for the filter tests: v2 does leak when nothing stops it."""
    gw = start_gateway([system("chat-api", upstream.url, active_version="v2")])
    answer = gw.client("chat-api").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "who is the customer?"}]
    )
    assert answer.choices[0].message.content == LEAK


def test_a_stream_that_stalls_ends_with_an_error_event(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway(
        [system("slow", upstream.url, active_version="v1", gateway={"timeout_seconds": 0.3})]
    )
    stream = gw.client("slow").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "[stall=2] hi"}], stream=True
    )
    got = []
    with pytest.raises(openai.APIError) as broken:
        got.extend(stream)
    assert got  # the first chunk arrived before the stall
    assert "mid-stream" in broken.value.message
    [capture] = gw.captures("slow")
    assert (capture.status_code, capture.streamed) == (504, True)


def test_a_client_leaving_mid_stream_is_captured_and_nothing_breaks(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway([system("chat-api", upstream.url, active_version="v1")])
    url = f"{gw.url}/systems/chat-api/v1/chat/completions"
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "[stall=1] hi"}]}
    with httpx.stream("POST", url, json=body) as response:
        first = next(response.iter_raw())  # the first chunk, then hang up
    assert first.startswith(b"data: ")
    again = gw.client("chat-api").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert again.model == "demo-v1"
    deadline = time.monotonic() + 10
    captures = gw.captures("chat-api")
    while len(captures) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        captures = gw.captures("chat-api")
    [left] = [c for c in captures if c.streamed]
    assert left.response.startswith("Hello")  # what had arrived when the client left
    assert left.response != "Hello from demo-v1. You said: [stall=1] hi"


def test_upstream_key_comes_from_the_environment(
    start_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = demo_upstream.start(api_key="sk-upstream")
    try:
        monkeypatch.setenv("DEMO_UPSTREAM_KEY", "sk-upstream")
        version = {"name": "v1", "upstream": f"{keyed.url}/v1", "model": "demo-v1"}
        gw = start_gateway(
            [
                {"name": "keyed", "versions": [{**version, "api_key_env": "DEMO_UPSTREAM_KEY"}]},
                {"name": "keyless", "versions": [version]},
                {
                    "name": "forwarding",
                    "versions": [version],
                    "gateway": {"forward_client_authorization": True},
                },
            ]
        )
        ask = [{"role": "user", "content": "hi"}]
        assert gw.client("keyed").chat.completions.create(model="m", messages=ask).model == (
            "demo-v1"
        )
        # The client's own Authorization never goes upstream by default (issue 11), even
        # when it happens to be the upstream's key ...
        with pytest.raises(openai.AuthenticationError):
            gw.client("keyless", key="sk-upstream").chat.completions.create(model="m", messages=ask)
        # ... only where the system's config says so.
        with pytest.raises(openai.AuthenticationError):
            gw.client("forwarding", key="sk-wrong").chat.completions.create(model="m", messages=ask)
        passed = gw.client("forwarding", key="sk-upstream").chat.completions.create(
            model="m", messages=ask
        )
        assert passed.model == "demo-v1"
    finally:
        keyed.stop()


async def test_concurrent_requests_and_streams_all_complete_and_are_captured(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway([system("chat-api", upstream.url, active_version="v1")])
    client = openai.AsyncOpenAI(
        base_url=f"{gw.url}/systems/chat-api/v1", api_key="x", max_retries=0, timeout=30
    )

    async def one(i: int) -> str:
        ask = [{"role": "user", "content": f"hello {i}"}]
        if i % 2:
            stream = await client.chat.completions.create(model="m", messages=ask, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        done = await client.chat.completions.create(model="m", messages=ask)
        return done.choices[0].message.content or ""

    answers = await asyncio.gather(*(one(i) for i in range(40)))
    await client.close()
    assert answers == [f"Hello from demo-v1. You said: hello {i}" for i in range(40)]
    captures = await asyncio.to_thread(gw.captures, "chat-api")
    assert len(captures) == 40
    assert sum(c.streamed for c in captures) == 20


def test_upstream_keys_come_from_the_mapping_the_root_hands_down(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway reads no environment of its own: a key only in the process environment
    is not used, one in the handed mapping is (the Runtime hands it `runtime.secrets`)."""
    monkeypatch.setenv("ROOT_ONLY_KEY", "sk-from-the-process")
    version = {"name": "v1", "upstream": "http://127.0.0.1:9/v1", "model": "m"}
    rt = make_runtime(
        systems=[
            {"name": "a", "versions": [{**version, "api_key_env": "HANDED_KEY"}]},
            {"name": "b", "versions": [{**version, "api_key_env": "ROOT_ONLY_KEY"}]},
        ]
    )
    alert = alert_sink(rt.intake.submit)
    gw = Gateway(rt.settings, rt.db, rt.tokens, alert, secrets={"HANDED_KEY": "sk-handed"})
    assert gw.upstream_keys == {("a", "v1"): "sk-handed"}
    # The Runtime's own mapping is the process environment, read once at the root.
    from_root = Gateway(rt.settings, rt.db, rt.tokens, alert, secrets=rt.secrets)
    assert from_root.upstream_keys == {("b", "v1"): "sk-from-the-process"}
