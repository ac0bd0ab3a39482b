"""The gateway's per-process series: requests by system and status, and the latency it adds."""

from __future__ import annotations

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from defib.auth import Role, generate_token
from defib.clock import utcnow
from defib.gateway.server import ThreadedServer
from defib.store import tokens as token_repo
from tests.support.gateway import GatewayFactory, sqlite_only, system

pytestmark = sqlite_only


def test_gateway_requests_and_added_latency_on_its_own_metrics(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    gw = start_gateway([system("chat-api", upstream.url, active_version="v1")])
    client = gw.client("chat-api")
    messages = [{"role": "user", "content": "hello"}]
    client.chat.completions.create(model="m", messages=messages)
    list(client.chat.completions.create(model="m", messages=messages, stream=True))
    with pytest.raises(openai.NotFoundError):
        gw.client("nope").chat.completions.create(model="m", messages=messages)

    assert httpx.get(f"{gw.url}/metrics").status_code == 401
    token = generate_token()
    with gw.runtime.db.write() as conn:
        token_repo.create_token(
            conn, name="prom", role=Role.VIEWER, token=token, created_by="t", now=utcnow()
        )
    resp = httpx.get(f"{gw.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(resp.text)
        for s in f.samples
    }
    assert (
        samples[("defib_gateway_requests_total", (("status", "200"), ("system", "chat-api")))] == 2
    )
    added = samples[("defib_gateway_added_latency_seconds_count", (("system", "chat-api"),))]
    assert added == 2
    total = samples[("defib_gateway_request_duration_seconds_sum", (("system", "chat-api"),))]
    added_sum = samples[("defib_gateway_added_latency_seconds_sum", (("system", "chat-api"),))]
    assert 0 < added_sum < total
