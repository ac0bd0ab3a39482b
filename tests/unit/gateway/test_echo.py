"""One gateway client key cannot switch a system off for the others (issue 25).

The reproduction: PII a client put in an `image_url` part, which the model repeated, counted
as the model's own output (the echo check read text parts only); the data_leak incident
disabled the system and another key got 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

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

PII = "Reach Jane Doe at jane.doe@corp-mail.example or 415-555-0134"


@pytest.fixture
def worker() -> Iterator[Callable[[Runtime], None]]:
    from defib.playbooks.engine.worker import Worker

    started: list[Worker] = []
    yield lambda rt: started.append(Worker(rt.engine, executor_id="t-echo").start())
    for w in started:
        w.stop()


def _image_part_asking_to_repeat() -> list[dict[str, Any]]:
    # The demo model obeys `[say=...]` anywhere in the message, as a vision model reads text
    # off a picture: the PII reaches the answer from the image part alone.
    return [
        {"type": "text", "text": "What does the picture say?"},
        {"type": "image_url", "image_url": {"url": f"https://img.example/[say={PII}].png"}},
    ]


def test_pii_echoed_from_an_image_part_does_not_switch_the_system_off(
    start_gateway: GatewayFactory,
    upstream: ThreadedServer,
    worker: Callable[[Runtime], None],
) -> None:
    """The data_leak incident opens and its playbook runs, but disable_endpoint and
    rollback_model are withheld: a request with media makes nothing the model's own, and
    one key is not corroboration. Another key is still served."""
    gateway = {"detect": ["pii"], "api_key_hashes": [key_hash("k-one"), key_hash("k-two")]}
    gw = start_gateway(
        [system("chat-api", upstream.url, gateway=gateway)],
        allow_anonymous=False,
        alert_min_interval_seconds=0,
    )
    worker(gw.runtime)
    one = gw.client("chat-api", key="k-one")
    answer = one.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": _image_part_asking_to_repeat()}],  # type: ignore[list-item]
    )
    assert "415-555-0134" in (answer.choices[0].message.content or "")
    assert gw.gateway.post.drain()
    incident = _wait_incident(gw.runtime)
    assert incident.type is IncidentType.DATA_LEAK
    run = wait_run(
        gw.runtime,
        only_run(gw.runtime, incident.id).id,
        timeout=60,
        until=lambda r: (
            {s.name: s for s in r.steps}["rollback_model"].status
            not in (RunStatus.PENDING, RunStatus.RUNNING)
        ),
    )
    steps = {s.name: s for s in run.steps}
    assert steps["disable_endpoint"].status is RunStatus.SKIPPED
    assert steps["rollback_model"].status is RunStatus.SKIPPED
    timeline = [e.data for e in gw.runtime.incidents.timeline(incident.id)]
    withheld = [
        d for d in timeline if d.get("action") == "disable_endpoint" and "corroborated" in d
    ]
    assert withheld and not withheld[0]["corroborated"]
    assert withheld[0]["unechoed_requests"] == 0 and withheld[0]["clients"] == 1

    state = ControlService(gw.runtime.db).state("chat-api")
    assert state is None or not state.disabled
    two = gw.client("chat-api", key="k-two")
    hello = two.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert hello.choices[0].message.content


def _wait_incident(rt: Runtime, timeout: float = 15.0) -> Incident:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, _ = rt.incidents.search(incident_repo.IncidentFilter(system="chat-api"))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no incident")
