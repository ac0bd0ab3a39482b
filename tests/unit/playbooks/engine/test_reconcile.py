"""No silent stuck runs: workflows that ended outside defib's control are reconciled, runs
without progress are flagged, and both are visible (API, CLI) and resumable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.playbooks.engine.verdicts import (
    VerdictKind,
    WorkflowState,
    redrive_count,
    redrive_workflow_id,
    stuck_since,
    verdict,
)
from defib.playbooks.runs import Run, RunStatus, RunStep
from defib.store import tokens as token_repo
from defib.store.tables import playbook_run_steps, playbook_runs
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer
from tests.support.engine import declare, only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def a_run(*steps: RunStep, status: RunStatus = RunStatus.RUNNING, **kw: Any) -> Run:
    spec = {
        "name": "p",
        "applies_to": ["toxicity"],
        "steps": [
            {
                "name": "hook",
                "action": "webhook",
                "params": {"url": "http://x"},
                "timeout_seconds": 10,
                "retries": {"count": 2, "backoff_seconds": 1, "max_backoff_seconds": 2},
            },
            {"name": "pause", "action": "wait", "params": {"seconds": 60}},
        ],
    }
    return Run(
        id="r1", incident_seq=1, playbook="p", playbook_version="1", playbook_digest="d",
        spec=spec, status=status, dry_run=False, trigger="auto", created_by="t",
        created_at=T0, generation=0, workflow_id=kw.get("workflow_id", "r1"),
        started_at=T0, steps=steps,
    )  # fmt: skip


def test_verdicts() -> None:
    run = a_run()
    assert verdict(run, WorkflowState("PENDING")).kind is VerdictKind.NONE
    assert verdict(run, WorkflowState(None)).kind is VerdictKind.NONE
    assert verdict(run, WorkflowState("PENDING", orphaned=True)).kind is VerdictKind.RESUME
    assert verdict(run, WorkflowState("CANCELLED")).kind is VerdictKind.FAIL
    assert verdict(run, WorkflowState("MAX_RECOVERY_ATTEMPTS_EXCEEDED")).kind is VerdictKind.FAIL
    failed = verdict(run, WorkflowState("ERROR", error="ValueError: bad"))
    assert failed.kind is VerdictKind.FAIL and "ValueError: bad" in failed.reason
    outage = WorkflowState("ERROR", error="OperationalError", storage_error=True)
    assert verdict(run, outage).kind is VerdictKind.REDRIVE
    exhausted = a_run(workflow_id=redrive_workflow_id("r1", 10))
    assert verdict(exhausted, outage).kind is VerdictKind.FAIL
    ended = a_run(status=RunStatus.SUCCEEDED)
    assert verdict(ended, WorkflowState("ERROR")).kind is VerdictKind.NONE
    assert redrive_count(redrive_workflow_id("r1~2@r3", 4)) == 4
    assert redrive_workflow_id("r1~2@r3", 4) == "r1~2@r4"


def test_the_watchdog_allows_each_step_its_timeouts_and_backoffs_plus_the_margin() -> None:
    started = T0 + timedelta(seconds=5)
    run = a_run(
        RunStep(0, "hook", "webhook", RunStatus.RUNNING, attempts=1, started_at=started),
        RunStep(1, "pause", "wait", RunStatus.PENDING),
    )
    allowance = 3 * 10 + 1 + 2  # three attempts of 10 s, backoffs of 1 and 2 s
    limit = started + timedelta(seconds=allowance + 30)
    assert stuck_since(run, limit, 30) is None
    assert stuck_since(run, limit + timedelta(seconds=1), 30) == limit
    deadline = T0 + timedelta(minutes=10)
    waiting = a_run(
        RunStep(0, "hook", "webhook", RunStatus.SUCCEEDED, ended_at=started),
        RunStep(1, "pause", "wait", RunStatus.RUNNING, started_at=started, deadline_at=deadline),
    )
    assert stuck_since(waiting, deadline + timedelta(seconds=29), 30) is None
    assert stuck_since(waiting, deadline + timedelta(seconds=31), 30) is not None
    pending = a_run(status=RunStatus.PENDING)
    assert stuck_since(pending, T0 + timedelta(seconds=31), 30) is not None
    assert stuck_since(a_run(status=RunStatus.FAILED), T0 + timedelta(days=1), 30) is None


@pytest.fixture
def start_worker() -> Iterator[Callable[[Runtime], None]]:
    from defib.playbooks.engine.worker import Worker

    workers: list[Worker] = []

    def start(rt: Runtime) -> None:
        workers.append(Worker(rt.engine, executor_id=f"rec-{time.monotonic_ns()}").start())

    yield start
    for w in workers:
        w.stop()


WAIT_PLAYBOOK = """
name: slow
applies_to: [toxicity]
steps:
  - {name: pause, action: wait, params: {seconds: 300}}
  - {name: after, action: note, params: {text: "after the pause"}}
"""


@pytest.fixture
def notified(
    make_runtime: Callable[..., Runtime],
    playbook_dir: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Runtime, HttpPeer]]:
    """A runtime whose chat-api owners have a signed webhook on a loopback peer."""
    monkeypatch.setenv("TEST_HOOK_SECRET", "s")
    peer = HttpPeer().start()
    playbook_dir(WAIT_PLAYBOOK)
    yield make_runtime(**systems_config(peer, None)), peer
    peer.stop()


def test_a_workflow_cancelled_outside_defib_fails_its_run_loudly(
    notified: tuple[Runtime, HttpPeer], start_worker: Callable[[Runtime], None]
) -> None:
    rt, peer = notified
    start_worker(rt)
    inc = declare(rt)
    run = wait_run(rt, only_run(rt, inc).id, lambda r: r.steps[0].status is RunStatus.RUNNING)
    rt.engine.host.cancel(run.workflow_id)  # DBOS's own cancel: our tables know nothing
    report = rt.engine.reconcile()
    assert report.failed == [run.id]
    run = rt.engine.get_run(run.id)
    assert run.status is RunStatus.FAILED
    assert run.error is not None and "cancelled outside defib" in run.error
    assert [s.status for s in run.steps] == [RunStatus.FAILED, RunStatus.CANCELLED]
    (finished,) = [e for e in rt.incidents.timeline(inc) if e.kind == "run_finished"]
    assert finished.data["reconciled"] is True and finished.data["status"] == "failed"
    (hook,) = peer.at("/hook")
    assert run.id in hook.json()["text"] and "cancelled outside defib" in hook.json()["text"]
    # Once: a second pass finds nothing to do.
    assert rt.engine.reconcile().failed == []
    assert len(peer.at("/hook")) == 1
    # A person resumes it (`defib runs retry`): the failed step runs again.
    rt.engine.retry_step(run.id, 0, "alice")
    again = wait_run(rt, run.id, lambda r: r.steps[0].status is RunStatus.RUNNING)
    assert again.status is RunStatus.RUNNING and again.generation == 1


def test_a_workflow_that_ended_in_error_fails_its_run(
    notified: tuple[Runtime, HttpPeer], start_worker: Callable[[Runtime], None]
) -> None:
    rt, _ = notified
    inc = declare(rt)
    run = only_run(rt, inc)
    with rt.db.write() as conn:  # a spec the workflow cannot read: it raises, DBOS says ERROR
        conn.execute(
            update(playbook_runs).where(playbook_runs.c.id == run.id).values(spec={"steps": 1})
        )
    start_worker(rt)
    deadline = time.monotonic() + 20
    while True:
        state = rt.engine.host.workflow_states([run.workflow_id]).get(run.workflow_id)
        if state is not None and state.status == "ERROR":
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert rt.engine.reconcile().failed == [run.id]
    failed = rt.engine.get_run(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None and "ended in error" in failed.error


def test_stuck_runs_are_flagged_once_and_listed(
    make_runtime: Callable[..., Runtime], playbook_dir: Callable[[str], Path]
) -> None:
    playbook_dir(WAIT_PLAYBOOK.replace("wait, params: {seconds: 300}", "note, params: {text: x}"))
    rt = make_runtime()
    inc = declare(rt)
    run = only_run(rt, inc)
    long_ago = utcnow() - timedelta(hours=2)
    with rt.db.write() as conn:  # running, its first step started two hours ago, no worker
        conn.execute(
            update(playbook_runs)
            .where(playbook_runs.c.id == run.id)
            .values(status="running", started_at=long_ago, created_at=long_ago)
        )
        conn.execute(
            update(playbook_run_steps)
            .where(playbook_run_steps.c.run_id == run.id, playbook_run_steps.c.idx == 0)
            .values(status="running", started_at=long_ago, attempts=1)
        )
    assert [r.id for r, _ in rt.engine.stuck_runs()] == [run.id]
    assert rt.engine.reconcile().stuck == [run.id]
    assert rt.engine.reconcile().stuck == []  # flagged once
    (flag,) = [e for e in rt.incidents.timeline(inc) if e.kind == "run_stuck"]
    assert flag.data["step"] == "pause"

    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name="v", role=Role.VIEWER, token=token, created_by="t", now=utcnow()
        )
    with TestClient(create_app(rt)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        stuck = client.get("/api/v1/runs", params={"stuck": "true"}).json()
        assert [r["id"] for r in stuck["items"]] == [run.id] and stuck["next_cursor"] is None
        other = declare(rt, title="another one", systems=("search",))
        page = client.get("/api/v1/runs", params={"limit": 1}).json()
        assert [r["incident_id"] for r in page["items"]] == [other]
        rest = client.get("/api/v1/runs", params={"limit": 1, "cursor": page["next_cursor"]})
        assert [r["id"] for r in rest.json()["items"]] == [run.id]
