"""Deterministic replay, proven systematically: every built-in playbook's workflow is stopped
right after each of its recorded DBOS operations in turn, the worker is restarted, and the
run must complete exactly as an uninterrupted one does: same final status, same effects
(one per idempotency key, no key more or fewer), same timeline.

The stop is a test hook in the engine's host (`set_operation_hook`): after operation N the
workflow's coroutine blocks for good, as if the process had died right after DBOS
checkpointed that operation; the worker is then stopped (DBOS leaves the workflow PENDING)
and started again with the same executor id, so DBOS recovers and replays it. All abort
points of all playbooks run at once (one run each, each on its own system so that their
rollbacks and kill switches do not meet), so the test costs two worker restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.playbooks.engine import RunConflict, host
from defib.playbooks.engine.worker import Worker
from defib.playbooks.runs import TERMINAL_STATUSES, RunStatus
from defib.systems.control import ControlService, Owner
from defib.systems.state import VersionStatus
from tests.support.actions.peers import ChatPeer, HttpPeer, MailPeer
from tests.support.engine import declare, only_run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

PLAYBOOKS = {
    "hallucination": IncidentType.HALLUCINATION,
    "toxicity": IncidentType.TOXICITY,
    "data_leak": IncidentType.DATA_LEAK,
    "generic": IncidentType.PERFORMANCE,
}
SYSTEMS = 80
PROBE = {"prompt": "What is the capital of France?", "must_contain": ["paris"]}


@dataclass
class Stopper:
    """The hook: counts each workflow's operations; blocks a workflow after its Nth."""

    stop_after: dict[str, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    stopped: set[str] = field(default_factory=set)

    async def __call__(self, workflow_id: str) -> None:
        self.counts[workflow_id] += 1
        if self.counts[workflow_id] == self.stop_after.get(workflow_id):
            self.stopped.add(workflow_id)
            await asyncio.Event().wait()  # "dies" here: never resumes in this process


@pytest.fixture
def peers() -> Iterator[tuple[HttpPeer, MailPeer, ChatPeer]]:
    started = HttpPeer().start(), MailPeer().start(), ChatPeer().start()
    yield started
    for peer in started:
        peer.stop()


def config(http: HttpPeer, mail: MailPeer, chat: ChatPeer) -> dict[str, Any]:
    owners = {
        "team": "assistants",
        "slack_webhook": f"{http.url}/slack/T000/B000/XXXX",
        "emails": ["oncall@example.com"],
        "pagerduty_routing_key": "R0UT1NGKEY",
        "security_contacts": ["security@example.com"],
        "webhooks": [{"url": f"{http.url}/hook", "secret_env": "TEST_HOOK_SECRET"}],
    }
    return {
        "systems": [
            {
                "name": f"sys-{i}",
                "tier": 1,
                "owners": owners,
                "control": {
                    "kind": "http",
                    "url": f"{http.url}/control",
                    "secret_env": "TEST_HOOK_SECRET",
                },
                "versions": [{"name": "v1", "model": "chat-v1"}, {"name": "v2", "model": "m2"}],
                "probes": [PROBE],
                "endpoint": chat.url,
            }
            for i in range(SYSTEMS)
        ],
        "notifications": {
            "pagerduty": {"events_url": f"{http.url}/pd/v2/enqueue"},
            "retries": {"attempts": 3, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
            "smtp": {"host": "127.0.0.1", "port": mail.port, "from": "defib@example.org"},
        },
    }


def drive(rt: Runtime, run_ids: list[str], done: Callable[[], bool], timeout: float) -> None:
    """Approve whatever waits for approval until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        for run_id in run_ids:
            run = rt.engine.get_run(run_id)
            for step in run.steps:
                if step.status is RunStatus.WAITING_APPROVAL:
                    with contextlib.suppress(RunConflict):  # it moved on meanwhile
                        rt.engine.decide(
                            run_id, step.index, approve=True, actor="t", role="admin", note=None
                        )
        assert time.monotonic() < deadline, [rt.engine.get_run(r).status for r in run_ids]
        time.sleep(0.1)


def terminal(rt: Runtime, run_id: str) -> bool:
    return rt.engine.get_run(run_id).status in TERMINAL_STATUSES


def fingerprint(rt: Runtime, run_id: str, incident: str, http: HttpPeer) -> tuple[Any, ...]:
    """What a run did, its id taken out: status, steps, effect keys, timeline kinds.

    Keys are compared as a set (a receiver may see a key twice if a step re-executes; it
    applies the effect once); the timeline as a multiset (bookkeeping lands exactly once).
    """
    run = rt.engine.get_run(run_id)
    keys = {
        re.sub(r"sys-\d+", "SYS", r.key.replace(run_id, "RUN"))
        for r in http.requests
        if r.key and r.key.startswith(run_id)
    }
    events = Counter(e.kind for e in rt.incidents.timeline(incident))
    return (
        run.status,
        tuple((s.name, s.status.value) for s in run.steps),
        tuple(sorted(keys)),
        tuple(sorted(events.items())),
    )


def test_every_playbook_survives_a_stop_after_each_of_its_operations(
    database_url: str,
    make_runtime: Callable[..., Runtime],
    peers: tuple[HttpPeer, MailPeer, ChatPeer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not database_url.startswith("sqlite"):
        # The sequence of DBOS operations does not depend on the database; one is enough
        # to keep the suite short (the outage and crash tests cover PostgreSQL's recovery).
        pytest.skip("replay determinism is checked on SQLite")
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")
    http, mail, chat = peers
    rt = make_runtime(**config(http, mail, chat))
    control = ControlService(rt.db)
    for i in range(SYSTEMS):
        control.mark_version(f"sys-{i}", "v1", VersionStatus.GOOD, Owner("tester"))
    systems = iter(range(SYSTEMS))
    stopper = Stopper()
    executor = f"replay-{time.monotonic_ns()}"

    def new_run(kind: IncidentType) -> tuple[str, str]:
        inc = declare(rt, kind, title=f"{kind.value} drill", systems=(f"sys-{next(systems)}",))
        return only_run(rt, inc).id, inc

    # 1. One uninterrupted run per playbook: how many operations it makes, what it does.
    reference = {name: new_run(kind) for name, kind in PLAYBOOKS.items()}
    host.set_operation_hook(stopper)
    try:
        worker = Worker(rt.engine, executor_id=executor).start()
        ids = [r for r, _ in reference.values()]
        drive(rt, ids, lambda: all(terminal(rt, r) for r in ids), 90)
        worker.stop()
        expected = {n: fingerprint(rt, r, inc, http) for n, (r, inc) in reference.items()}
        operations = {n: stopper.counts[r] for n, (r, _) in reference.items()}

        # 2. A run per (playbook, N): each stopped right after its Nth operation.
        cases: dict[str, tuple[str, str, int]] = {}
        for name, kind in PLAYBOOKS.items():
            for n in range(1, operations[name] + 1):
                run_id, inc = new_run(kind)
                stopper.stop_after[run_id] = n
                cases[run_id] = (name, inc, n)
        worker = Worker(rt.engine, executor_id=executor).start()
        drive(rt, list(cases), lambda: stopper.stopped >= set(cases), 90)
        # 3. "Crash" (the stopped workflows stay PENDING), restart, recover, replay.
        worker.stop()
    finally:
        host.set_operation_hook(None)
    worker = Worker(rt.engine, executor_id=executor).start()
    try:
        drive(rt, list(cases), lambda: all(terminal(rt, r) for r in cases), 120)
    finally:
        worker.stop()
    wrong = []
    for run_id, (name, inc, n) in cases.items():
        got = fingerprint(rt, run_id, inc, http)
        if got != expected[name]:
            diff = [
                (i, g, e)
                for i, (g, e) in enumerate(zip(got, expected[name], strict=True))
                if g != e
            ]
            wrong.append((name, n, diff))
    assert not wrong, wrong
    # Every playbook ran to its end (needs_attention included: the replay is what is tested).
    ended = {n: f[0] for n, f in expected.items()}
    assert set(ended.values()) <= {RunStatus.SUCCEEDED, RunStatus.NEEDS_ATTENTION}, ended
    total = sum(operations.values())
    print(f"replay: {total} stop points {operations}, every run as uninterrupted")
