"""Sampled capture: the rate decides what is kept; PII is masked at rest unless turned off."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from defib.gateway.demo_upstream import LEAK
from defib.gateway.server import ThreadedServer
from defib.store import systems as systems_repo
from defib.systems.state import Capture
from tests.support.gateway import GatewayFactory, system

ASK = [{"role": "user", "content": "who is the customer? I am bob@example.org"}]


def test_capture_rate_masking_and_fields(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    url = upstream.url
    gw = start_gateway(
        [
            system("never", url, active_version="v2", gateway={"capture": {"sample_rate": 0}}),
            system("masked", url, active_version="v2", gateway={"detect": ["pii"]}),
            system(
                "raw",
                url,
                active_version="v2",
                gateway={"capture": {"sample_rate": 1, "mask_pii": False}},
            ),
        ],
        alert_min_interval_seconds=3600,
    )
    for name in ("never", "masked", "raw"):
        client = gw.client(name)
        for _ in range(3):
            client.chat.completions.create(model="m", messages=ASK, user="user-42")
        list(client.chat.completions.create(model="m", messages=ASK, stream=True))
    assert gw.captures("never") == []

    masked = gw.captures("masked")
    assert len(masked) == 4
    for c in masked:
        assert c.masked
        assert "jane.doe@example.com" not in c.response
        assert "123-45-6789" not in c.response
        assert "[EMAIL]" in c.response
        assert "bob@example.org" not in c.prompt
        assert c.version == "v2"
        assert c.status_code == 200
        assert c.endpoint == "chat.completions"
        assert {"detector": "pii", "entity": "US_SSN", "count": 1} in c.findings
        assert all("value" not in f and "text" not in f for f in c.findings)
    assert [c.user_id for c in masked] == ["user-42", "user-42", "user-42", None]
    assert [c.streamed for c in masked] == [False, False, False, True]

    raw = gw.captures("raw")
    assert len(raw) == 4
    assert all(not c.masked and c.response == LEAK for c in raw)
    assert "bob@example.org" in raw[0].prompt


def test_captures_past_retention_are_pruned(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    now = datetime.now(UTC)
    gw = start_gateway(
        [system("chat-api", upstream.url, gateway={"capture": {"retention_days": 30}})]
    )
    old = Capture(
        "chat-api",
        "v1",
        now - timedelta(days=31),
        "old",
        "chat.completions",
        "p",
        "r",
        True,
        200,
        5,
    )
    with gw.runtime.db.write() as conn:
        systems_repo.insert_captures(conn, [old])
    gw.client("chat-api").chat.completions.create(model="m", messages=ASK)
    deadline = time.monotonic() + 10
    kept = gw.captures("chat-api")
    while any(c.request_id == "old" for c in kept) and time.monotonic() < deadline:
        time.sleep(0.05)
        kept = gw.captures("chat-api")
    assert [c.request_id for c in kept if c.request_id == "old"] == []
    assert len(kept) == 1  # the fresh one stays
