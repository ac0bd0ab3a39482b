"""System state from the database drives the gateway: kill switch, fallbacks, rollback,
and the probe bypass the verify step relies on."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import openai
import pytest

from defib.auth import Role, generate_token
from defib.gateway.server import ThreadedServer
from defib.store import tokens as token_repo
from defib.store.incidents import IncidentFilter
from tests.support.gateway import GatewayFactory, Running, system

HELLO = [{"role": "user", "content": "hello"}]


def _disable(gw: Running, name: str) -> None:
    gw.wait_applied(gw.change(name, lambda s: s.disable(7, "INC-7: leaking PII")))


def test_kill_switch_answers_503_then_recovers(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway([system("chat-api", upstream.url, active_version="v1")])
    client = gw.client("chat-api")
    assert client.chat.completions.create(model="m", messages=HELLO).model == "demo-v1"
    _disable(gw, "chat-api")
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="m", messages=HELLO, stream=stream)
        assert refused.value.status_code == 503
        assert refused.value.code == "system_disabled"
        assert "INC-7" in refused.value.message
    raw = httpx.post(f"{gw.url}/systems/chat-api/v1/completions", json={"prompt": "x"})
    assert raw.status_code == 503
    assert set(raw.json()["error"]) >= {"message", "type", "code"}
    gw.wait_applied(gw.change("chat-api", lambda s: s.enable(7)))
    assert client.chat.completions.create(model="m", messages=HELLO).model == "demo-v1"


def test_kill_switch_serves_the_fallback_message_or_version(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    message = "The assistant is paused for maintenance; write to help@example.com."
    gw = start_gateway(
        [
            system("msg", upstream.url, gateway={"fallback_message": message, "detect": ["pii"]}),
            system("ver", upstream.url, active_version="v2", gateway={"fallback_version": "v1"}),
            system("leaky", upstream.url, active_version="v2", gateway={"detect": ["pii"]}),
        ]
    )
    _disable(gw, "msg")
    _disable(gw, "ver")
    client = gw.client("msg")
    answer = client.chat.completions.create(model="m", messages=HELLO)
    assert answer.choices[0].message.content == message
    streamed = client.chat.completions.create(model="m", messages=HELLO, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == message
    assert client.completions.create(model="m", prompt="hi").choices[0].text == message
    # A fallback version is a real model: v1 answers while v2 is switched off.
    assert gw.client("ver").chat.completions.create(model="m", messages=HELLO).model == "demo-v1"
    # The fallback message is ours, not the model's: its address raises no data_leak. (The
    # leaky system is the control: once its incident shows, an alert for "msg" would have.)
    gw.client("leaky").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "who is the customer?"}]
    )
    deadline = time.monotonic() + 10
    while not gw.runtime.incidents.search(IncidentFilter(system="leaky"))[0]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert gw.runtime.incidents.search(IncidentFilter(system="msg"))[0] == []


def test_rollback_moves_traffic_without_a_restart(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway([system("chat-api", upstream.url)])  # newest (v2) serves first
    client = gw.client("chat-api")
    assert client.chat.completions.create(model="m", messages=HELLO).model == "demo-v2"
    gw.change("chat-api", lambda s: s.routed_to("v1"))
    # Another process wrote it: the gateway notices on its own (it polls revisions).
    deadline = time.monotonic() + 10
    served = "demo-v2"
    while served != "demo-v1" and time.monotonic() < deadline:
        served = client.chat.completions.create(model="m", messages=HELLO).model
        time.sleep(0.05)
    assert served == "demo-v1"


def _token(gw: Running, role: Role) -> str:
    token = generate_token()
    with gw.runtime.db.write() as conn:
        token_repo.create_token(
            conn,
            name=f"probe-{role}",
            role=role,
            token=token,
            created_by="test",
            now=datetime.now(UTC),
        )
    return token


def test_probe_bypasses_the_kill_switch_with_a_responder_token(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway(
        [
            system(
                "chat-api",
                upstream.url,
                active_version="v1",
                gateway={"api_key_hashes": ["0" * 64]},  # probes need no client key
            )
        ]
    )
    _disable(gw, "chat-api")
    url = f"{gw.url}/systems/chat-api/v1/chat/completions"
    body = {"model": "m", "messages": HELLO}
    responder = {"X-Defib-Probe": "1", "X-Defib-Token": _token(gw, Role.RESPONDER)}
    probed = httpx.post(url, json=body, headers=responder)
    assert probed.status_code == 200
    assert probed.json()["model"] == "demo-v1"
    viewer = {"X-Defib-Probe": "1", "X-Defib-Token": _token(gw, Role.VIEWER)}
    assert httpx.post(url, json=body, headers=viewer).status_code == 403
    forged = {"X-Defib-Probe": "1", "X-Defib-Token": "defib_not-a-token"}
    assert httpx.post(url, json=body, headers=forged).status_code == 401
    # Without the probe headers the kill switch holds (and the client key is required).
    assert httpx.post(url, json=body).status_code == 401
    captures = gw.captures("chat-api")
    probes = [c for c in captures if c.user_id == "defib-probe"]
    assert len(probes) == 1
    assert probes[0].status_code == 200
    assert probes[0].version == "v1"


def test_replicas_on_one_database_apply_the_same_state(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    systems = [system("chat-api", upstream.url, active_version="v1")]
    first, second = start_gateway(systems), start_gateway(systems)
    # Disable through the first replica's database handle; both stop serving.
    state = first.change("chat-api", lambda s: s.disable(3, "INC-3"))
    for replica in (first, second):
        replica.wait_applied(state)
        with pytest.raises(openai.APIStatusError) as refused:
            replica.client("chat-api").chat.completions.create(model="m", messages=HELLO)
        assert refused.value.status_code == 503


def test_a_probe_naming_a_newer_revision_is_served_under_it_at_once(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    """verify_endpoint probes right after a rollback: the replica re-reads before answering."""
    # A refresh interval far longer than the test: only the catch-up can explain v1.
    gw = start_gateway([system("chat-api", upstream.url)], state_refresh_seconds=10)
    url = f"{gw.url}/systems/chat-api/v1/chat/completions"
    body = {"model": "m", "messages": HELLO}
    probe = {"X-Defib-Probe": "1", "X-Defib-Token": _token(gw, Role.RESPONDER)}
    assert httpx.post(url, json=body, headers=probe).json()["model"] == "demo-v2"
    rolled = gw.change("chat-api", lambda s: s.routed_to("v1"))
    stale = httpx.post(url, json=body, headers=probe)
    assert stale.json()["model"] == "demo-v2"  # without the header: the cached state
    fresh = httpx.post(
        url, json=body, headers={**probe, "X-Defib-Min-Revision": str(rolled.revision)}
    )
    assert fresh.json()["model"] == "demo-v1"
