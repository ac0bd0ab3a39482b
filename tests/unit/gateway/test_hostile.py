"""A hostile gateway client cannot turn the gateway against its own system (issue 11).

The reproduction: one chat completion carrying a made-up `defib_context` made grounding
fail, opened a hallucination incident, and its playbook disabled the endpoint for everyone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import openai
import pytest

from defib.bootstrap import Runtime
from defib.gateway.routing import key_hash
from defib.gateway.server import ThreadedServer
from defib.model import Incident, IncidentType
from defib.playbooks.runs import RunStatus
from defib.store import incidents as incident_repo
from defib.systems.control import ControlService
from tests.support.engine import only_run, wait_run
from tests.support.gateway import GatewayFactory, system

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MADE_UP = {
    "model": "m",
    "messages": [{"role": "user", "content": "[say=The invoice total is $99.00 due 2025-03-01.]"}],
    "extra_body": {"defib_context": "The invoice total is $10.00 due on 2025-01-01."},
}


@pytest.fixture
def worker() -> Iterator[Callable[[Runtime], None]]:
    from defib.playbooks.engine.worker import Worker

    started: list[Worker] = []
    yield lambda rt: started.append(Worker(rt.engine, executor_id="t-hostile").start())
    for w in started:
        w.stop()


def test_no_client_key_no_service_by_default(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    """Without `allow_anonymous`, a system that lists no client keys serves nobody."""
    gw = start_gateway([system("chat-api", upstream.url)], allow_anonymous=False)
    for client in (gw.client("chat-api"), gw.client()):
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(**MADE_UP)
    assert not [w for w in gw.runtime.security_warnings if "anonymous" in w]


def test_one_client_with_a_made_up_context_cannot_switch_the_system_off(
    start_gateway: GatewayFactory,
    upstream: ThreadedServer,
    worker: Callable[[Runtime], None],
) -> None:
    """Anonymous: refused. Even a key allowed to send context raises only an alert: the
    incident's playbook runs, but disable and rollback are withheld as uncorroborated."""
    gateway = {
        "detect": ["grounding"],
        "api_key_hashes": [key_hash("k-rag")],
        "context_key_hashes": [key_hash("k-rag")],
    }
    gw = start_gateway(
        [system("chat-api", upstream.url, gateway=gateway)],
        allow_anonymous=False,
        alert_min_interval_seconds=0,
    )
    worker(gw.runtime)
    with pytest.raises(openai.AuthenticationError):
        gw.client("chat-api").chat.completions.create(**MADE_UP)

    keyed = gw.client("chat-api", key="k-rag")
    keyed.chat.completions.create(**MADE_UP)
    assert gw.gateway.post.drain()
    incident = _wait_incident(gw.runtime)
    assert incident.type is IncidentType.HALLUCINATION
    run = wait_run(gw.runtime, only_run(gw.runtime, incident.id).id, timeout=60)
    steps = {s.name: s for s in run.steps}
    assert steps["disable_endpoint"].status is RunStatus.SKIPPED
    assert steps["rollback_model"].status is RunStatus.SKIPPED
    withheld = [e.data for e in gw.runtime.incidents.timeline(incident.id)]
    withheld = [d for d in withheld if d.get("action") and "corroborated" in d]
    assert {d["action"] for d in withheld} == {"disable_endpoint", "rollback_model"}
    assert all(not d["corroborated"] and d["keyed_requests"] == 1 for d in withheld)

    state = ControlService(gw.runtime.db).state("chat-api")
    assert state is not None and not state.disabled
    answer = keyed.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content


def _wait_incident(rt: Runtime, timeout: float = 15.0) -> Incident:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, _ = rt.incidents.search(incident_repo.IncidentFilter(system="chat-api"))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no incident")


def test_a_nul_in_a_prompt_is_captured_the_same_on_both_databases(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    """PostgreSQL refuses NUL in text: it is stored as U+FFFD, and the rest of the batch
    (here a clean request in the same flush) is not lost with it."""
    gw = start_gateway([system("chat-api", upstream.url, active_version="v1")])
    client = gw.client("chat-api")
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a\x00b"}])
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "clean"}])
    prompts = sorted(c.prompt for c in gw.captures("chat-api"))
    assert len(prompts) == 2
    assert any("a\ufffdb" in p for p in prompts)
