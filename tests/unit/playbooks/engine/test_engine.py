"""The engine in-process on both databases: steps, retries, timeouts, when, approvals, cancel."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.integrations.signing import verify
from defib.model import IncidentType
from defib.playbooks.engine import RunConflict
from defib.playbooks.runs import RunStatus
from defib.store import tokens as token_repo
from tests.support.engine import declare, only_run, wait_run
from tests.support.engine.receiver import Receiver

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

S = RunStatus


def events(rt: Runtime, incident_id: str, kind: str | None = None) -> list[dict[str, object]]:
    return [
        {"actor": e.actor, "kind": e.kind, **e.data}
        for e in rt.incidents.timeline(incident_id)
        if kind is None or e.kind == kind
    ]


def test_builtin_playbook_runs_end_to_end_when_an_incident_opens(worker_runtime: Runtime) -> None:
    """Declaring an incident plans its type's playbook, which runs to the end on its own; with
    nothing configured its required steps are skipped, so it ends needing a person."""
    inc = declare(worker_runtime, IncidentType.HALLUCINATION)
    run = wait_run(worker_runtime, only_run(worker_runtime, inc).id)
    assert run.status is S.NEEDS_ATTENTION
    assert "required step notify_team was skipped" in (run.error or "")
    assert [s.name for s in run.steps] == [
        "disable_endpoint",
        "notify_team",
        "collect_evidence",
        "rollback_model",
        "verify_endpoint",
    ]
    # With no systems: config naming chat-api, the system-facing steps are skipped and the
    # timeline says why; collect_evidence needs no config.
    status = {s.name: s.status for s in run.steps}
    assert status.pop("collect_evidence") is S.SUCCEEDED
    assert set(status.values()) == {S.SKIPPED}
    assert all(s.attempts == 1 for s in run.steps)
    kinds = [e["kind"] for e in events(worker_runtime, inc) if e["actor"] == f"run:{run.id}"]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds[-2] == "run_needs_attention"
    assert kinds.count("run_step_control_skipped") == 2  # disable_endpoint, rollback_model
    assert kinds.count("run_step_verification_skipped") == 1
    assert kinds.count("run_step_notification_skipped") == 1
    assert kinds.count("run_step_evidence_collected") == 1
    assert kinds.count("run_step_finished") == 5


def test_webhook_is_signed_templated_and_keyed(
    playbook_dir: Callable[[str], Path], receiver: Receiver, make_runtime: Callable[..., Runtime]
) -> None:
    """The webhook body is rendered from the incident, HMAC-signed, and keyed run:step."""
    playbook_dir(
        f"""
        name: hooks
        applies_to: [toxicity]
        steps:
          - name: note-it
            action: note
            params: {{text: "hello {{{{ incident.id }}}}"}}
          - name: call
            action: webhook
            params:
              url: {receiver.url}/hook
              secret: s3cret
              body: {{incident: "{{{{ incident.id }}}}", severity: "{{{{ incident.severity }}}}"}}
        """
    )
    from defib.playbooks.engine.worker import Worker

    rt = make_runtime()
    worker = Worker(rt.engine, executor_id="t-webhook").start()
    try:
        inc = declare(rt)
        run = wait_run(rt, only_run(rt, inc).id)
    finally:
        worker.stop()
    assert run.status is S.SUCCEEDED
    (delivery,) = receiver.deliveries
    assert delivery.key == f"{run.id}:1"
    assert delivery.json() == {"incident": inc, "severity": "SEV2"}
    assert verify(delivery.body, "s3cret", delivery.signature)
    assert not verify(delivery.body + b" ", "s3cret", delivery.signature)
    notes = events(rt, inc, "note")
    assert notes == [
        {"actor": f"run:{run.id}", "kind": "note", "text": f"hello {inc}", "step": "note-it"}
    ]


def test_retries_back_off_then_succeed(
    playbook_dir: Callable[[str], Path], receiver: Receiver, make_runtime: Callable[..., Runtime]
) -> None:
    """A failing webhook is retried with growing waits until it succeeds."""
    playbook_dir(
        f"""
        name: flaky
        applies_to: [toxicity]
        steps:
          - name: call
            action: webhook
            params: {{url: {receiver.url}/flaky}}
            retries: {{count: 3, backoff_seconds: 0.2, max_backoff_seconds: 1.0}}
        """
    )
    receiver.fail_first["/flaky"] = 2
    from defib.playbooks.engine.worker import Worker

    rt = make_runtime()
    worker = Worker(rt.engine, executor_id="t-retry").start()
    try:
        inc = declare(rt)
        run = wait_run(rt, only_run(rt, inc).id)
    finally:
        worker.stop()
    assert run.status is S.SUCCEEDED
    assert run.steps[0].attempts == 3
    times = [d.at for d in receiver.deliveries]
    assert len(times) == 3
    assert {d.key for d in receiver.deliveries} == {f"{run.id}:0"}
    failed = events(rt, inc, "run_step_attempt_failed")
    assert [e["attempt"] for e in failed] == [1, 2]
    # Equal jitter: the planned wait before retry n is between half and all of 0.2 * 2^(n-1).
    planned = [e["retry_in_seconds"] for e in failed]
    assert 0.1 <= planned[0] <= 0.2
    assert 0.2 <= planned[1] <= 0.4
    # The worker really waited at least that long (only a lower bound: a loaded CI machine
    # may add any delay on top, so an upper bound here would be a timing test).
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= wait - 0.02 for gap, wait in zip(gaps, planned, strict=True))
    assert receiver.effects[f"{run.id}:0"] == 1


def test_timeouts_when_and_on_failure_continue_and_abort(
    playbook_dir: Callable[[str], Path], receiver: Receiver, make_runtime: Callable[..., Runtime]
) -> None:
    """A slow step times out; `continue` goes on, `when` skips, `abort` cancels the rest."""
    playbook_dir(
        f"""
        name: mixed
        applies_to: [toxicity]
        steps:
          - name: slow
            action: webhook
            params: {{url: {receiver.url}/slow}}
            timeout_seconds: 0.3
          - name: only-sev1
            action: note
            when: severity == SEV1
            params: {{text: never}}
          - name: broken
            action: webhook
            params: {{url: {receiver.url}/broken}}
            on_failure: abort
          - name: after
            action: note
            params: {{text: never}}
        """
    )
    receiver.delay["/slow"] = 1.5
    receiver.fail_first["/broken"] = 99
    from defib.playbooks.engine.worker import Worker

    rt = make_runtime()
    worker = Worker(rt.engine, executor_id="t-mixed").start()
    try:
        inc = declare(rt)
        run = wait_run(rt, only_run(rt, inc).id)
    finally:
        worker.stop()
    slow, sev1, broken, after = run.steps
    assert slow.status is S.TIMED_OUT and "timed out" in (slow.error or "")
    assert sev1.status is S.SKIPPED
    assert broken.status is S.FAILED and "HTTP 503" in (broken.error or "")
    assert after.status is S.CANCELLED
    assert run.status is S.FAILED
    assert "aborted at step 2" in (run.error or "")
    assert not events(rt, inc, "note")


def test_second_trigger_is_deduplicated_and_dry_run_acts_on_nothing(
    playbook_dir: Callable[[str], Path], receiver: Receiver, make_runtime: Callable[..., Runtime]
) -> None:
    """While a run is active a second one is refused; a dry run only describes its steps."""
    playbook_dir(
        f"""
        name: slowpoke
        applies_to: [toxicity]
        steps:
          - name: pause
            action: wait
            params: {{seconds: 30}}
          - name: call
            action: webhook
            params: {{url: {receiver.url}/x}}
            approval: {{required: true, role: admin, timeout_seconds: 60}}
        """
    )
    rt = make_runtime()  # no worker: runs stay pending, which is active
    inc = declare(rt)
    first = only_run(rt, inc)
    with pytest.raises(RunConflict):
        rt.engine.start_run(inc, "tester")
    dry = rt.engine.start_run(inc, "tester", dry_run=True)
    from defib.playbooks.engine.worker import Worker

    worker = Worker(rt.engine, executor_id="t-dry").start()
    try:
        dry = wait_run(rt, dry.id)
        assert dry.status is S.SUCCEEDED
        assert [s.status for s in dry.steps] == [S.SKIPPED, S.SKIPPED]
        assert dry.steps[0].output == {"dry_run": True, "would": "wait 30s"}
        assert dry.steps[1].output is not None
        assert dry.steps[1].output["would"].startswith(f"POST {receiver.url}/x")
        assert "admin" in dry.steps[1].output["approval"]
        assert receiver.deliveries == []
        # The real run is waiting; cancelling it stops it at once.
        wait_run(rt, first.id, lambda r: r.steps[0].status is S.RUNNING)
        cancelled = rt.engine.cancel(first.id, "tester")
        assert cancelled.status is S.CANCELLED
        assert {s.status for s in cancelled.steps} == {S.CANCELLED}
        with pytest.raises(RunConflict):
            rt.engine.cancel(first.id, "tester")
        # Its slot is free again.
        again = rt.engine.start_run(inc, "tester")
        assert again.id != first.id
        rt.engine.cancel(again.id, "tester")
    finally:
        worker.stop()
    assert rt.engine.get_run(first.id).status is S.CANCELLED
    assert receiver.deliveries == []


def _token(rt: Runtime, role: Role) -> str:
    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name=f"{role.value}-1", role=role, token=token, created_by="t", now=utcnow()
        )
    return token


def test_approvals_over_the_api_with_roles_and_timeouts(
    playbook_dir: Callable[[str], Path], receiver: Receiver, make_runtime: Callable[..., Runtime]
) -> None:
    """Only the step's role may approve; reject skips; an unanswered step follows on_timeout."""
    playbook_dir(
        f"""
        name: gated
        applies_to: [toxicity]
        steps:
          - name: tell-users
            action: webhook
            params: {{url: {receiver.url}/users}}
            approval: {{required: true, role: responder, timeout_seconds: 60}}
          - name: risky
            action: webhook
            params: {{url: {receiver.url}/risky}}
            approval: {{required: true, role: admin, timeout_seconds: 60}}
          - name: late
            action: webhook
            params: {{url: {receiver.url}/late}}
            approval: {{required: true, role: responder, timeout_seconds: 0.5, on_timeout: skip}}
          - name: last
            action: webhook
            params: {{url: {receiver.url}/last}}
            approval: {{required: true, timeout_seconds: 0.5, on_timeout: abort}}
        """
    )
    from defib.playbooks.engine.worker import Worker

    rt = make_runtime()
    viewer, responder = _token(rt, Role.VIEWER), _token(rt, Role.RESPONDER)
    worker = Worker(rt.engine, executor_id="t-approve").start()
    try:
        with TestClient(create_app(rt)) as client:
            inc = declare(rt)
            run_id = only_run(rt, inc).id
            wait_run(rt, run_id, lambda r: r.steps[0].status is S.WAITING_APPROVAL)
            url = f"/api/v1/runs/{run_id}/steps"
            as_viewer = {"Authorization": f"Bearer {viewer}"}
            as_responder = {"Authorization": f"Bearer {responder}"}
            denied = client.post(f"{url}/0/approve", headers=as_viewer, json={"note": "x"})
            assert denied.status_code == 403, denied.text
            ok = client.post(f"{url}/tell-users/approve", headers=as_responder, json={"note": "go"})
            assert ok.status_code == 200, ok.text
            wait_run(rt, run_id, lambda r: r.steps[1].status is S.WAITING_APPROVAL)
            # A responder may not approve an admin step, but may not be refused reading it.
            assert client.post(f"{url}/1/approve", headers=as_responder).status_code == 403
            assert client.post(f"{url}/0/approve", headers=as_responder).status_code == 409
            admin = {"Authorization": f"Bearer {_token(rt, Role.ADMIN)}"}
            assert (
                client.post(f"{url}/1/reject", headers=admin, json={"note": "no"}).status_code
                == 200
            )
            run = wait_run(rt, run_id)
            shown = client.get(f"/api/v1/runs/{run_id}", headers=as_viewer).json()
            # Role before state: the run has ended, and a viewer still gets 403, not 409.
            late_viewer = client.post(f"{url}/0/approve", headers=as_viewer)
            assert late_viewer.status_code == 403, late_viewer.text
            assert client.post(f"{url}/0/approve", headers=as_responder).status_code == 409
    finally:
        worker.stop()
    users, risky, late, last = run.steps
    assert users.status is S.SUCCEEDED and users.approval is not None
    assert users.approval["by"] == "responder-1" and users.approval["note"] == "go"
    assert risky.status is S.SKIPPED and risky.approval is not None
    assert risky.approval["decision"] == "reject"
    assert late.status is S.SKIPPED and late.approval == {**late.approval, "decision": "timeout"}
    assert last.status is S.TIMED_OUT
    assert run.status is S.TIMED_OUT
    assert [d.path for d in receiver.deliveries] == ["/users"]
    assert shown["steps"][0]["approval"]["by"] == "responder-1"
    approved = events(rt, inc, "run_step_approved")
    assert approved[0]["actor"] == "responder-1" and approved[0]["note"] == "go"
    assert events(rt, inc, "run_step_rejected")[0]["actor"] == "admin-1"


def test_retry_a_failed_step_runs_it_again_with_a_new_key(
    playbook_dir: Callable[[str], Path], receiver: Receiver, make_runtime: Callable[..., Runtime]
) -> None:
    """After a run failed, retrying the step re-runs it (and what its abort cut short)."""
    playbook_dir(
        f"""
        name: retryable
        applies_to: [toxicity]
        steps:
          - name: first
            action: webhook
            params: {{url: {receiver.url}/first}}
          - name: second
            action: webhook
            params: {{url: {receiver.url}/second}}
            on_failure: abort
          - name: third
            action: webhook
            params: {{url: {receiver.url}/third}}
        """
    )
    receiver.fail_first["/second"] = 1
    from defib.playbooks.engine.worker import Worker

    rt = make_runtime()
    worker = Worker(rt.engine, executor_id="t-retry-step").start()
    try:
        inc = declare(rt)
        run = wait_run(rt, only_run(rt, inc).id)
        assert run.status is S.FAILED
        assert [s.status for s in run.steps] == [S.SUCCEEDED, S.FAILED, S.CANCELLED]
        with pytest.raises(RunConflict):
            rt.engine.retry_step(run.id, 0, "tester")
        rt.engine.retry_step(run.id, 1, "tester")
        run = wait_run(rt, run.id, lambda r: r.generation == 1 and r.status is S.SUCCEEDED)
    finally:
        worker.stop()
    assert [s.status for s in run.steps] == [S.SUCCEEDED] * 3
    assert [d.key for d in receiver.deliveries] == [
        f"{run.id}:0",
        f"{run.id}:1",
        f"{run.id}:1:retry1",
        f"{run.id}:2:retry1",
    ]


def test_a_run_planned_without_a_worker_starts_when_one_comes(
    make_runtime: Callable[..., Runtime],
) -> None:
    """The outbox: runs planned while no worker runs are swept up when one starts."""
    rt = make_runtime()
    # bias: the generic playbook runs to its end unattended (toxicity waits for a review).
    inc = declare(rt, IncidentType.BIAS)
    run = only_run(rt, inc)
    assert run.status is S.PENDING
    time.sleep(0.2)
    from defib.playbooks.engine.worker import Worker

    worker = Worker(rt.engine, executor_id="t-sweep").start()
    try:
        # Nothing configured to notify or verify: it ends, needing a person.
        assert wait_run(rt, run.id).status is S.NEEDS_ATTENTION
    finally:
        worker.stop()


async def test_responder_trigger_response_runs_the_playbook_in_process(
    database_url: str, tmp_path: Path
) -> None:
    """The embedded API: a detected incident's playbook runs when worker=True."""
    from defib import Responder

    # bias: the generic playbook runs to its end unattended (toxicity waits for a review).
    alert = {
        "source": "guardrails",
        "type": "bias",
        "title": "Biased replies",
        "systems": ["chat-api"],
        "severity": "critical",
        "dedup_key": "k",
    }
    async with Responder(
        {"data_dir": tmp_path / "d", "database_url": database_url}, worker=True
    ) as responder:
        incident = await responder.detect_incident(alert)
        assert incident is not None
        run = await responder.trigger_response(incident)
        assert run.playbook == "generic"
        for _ in range(200):
            run = await responder.run(run.id)
            if run.status is S.NEEDS_ATTENTION:  # nothing configured to notify or verify
                break
            await asyncio.sleep(0.05)
        assert run.status is S.NEEDS_ATTENTION
        # Asking again for a finished run starts a new one (a manual re-trigger).
        again = await responder.trigger_response(incident)
        assert again.id != run.id
        for _ in range(200):  # let it end before the worker stops
            if (await responder.run(again.id)).status is S.NEEDS_ATTENTION:
                break
            await asyncio.sleep(0.05)


def test_an_attempt_re_executed_after_its_outcome_was_committed_does_not_act_again(
    playbook_dir: Callable[[str], Path], receiver: Receiver, make_runtime: Callable[..., Runtime]
) -> None:
    """A successful attempt commits its step's outcome inside its DBOS step; a crash before
    DBOS checkpoints it re-executes the attempt, which must find the outcome, not act."""
    playbook_dir(
        f"""
        name: twice
        applies_to: [toxicity]
        steps:
          - {{name: one, action: webhook, params: {{url: "{receiver.url}/one"}}}}
          - {{name: two, action: webhook, params: {{url: "{receiver.url}/two"}}}}
        """
    )
    from defib.playbooks.engine.worker import Worker
    from defib.playbooks.spec import Playbook

    rt = make_runtime()
    worker = Worker(rt.engine, executor_id="t-replay").start()
    try:
        inc = declare(rt)
        run = wait_run(rt, only_run(rt, inc).id)
    finally:
        worker.stop()
    assert run.status is S.SUCCEEDED
    assert [d.path for d in receiver.deliveries] == ["/one", "/two"]
    steps = Playbook.from_dict(run.spec).steps
    snapshot = {"seq": run.incident_seq, "id": inc}
    again = [
        asyncio.run(
            rt.engine.step_attempt(
                run.id, 0, i, 1, steps[i].model_dump(mode="json"), snapshot, last=i == 1
            )
        )
        for i in (0, 1)
    ]
    assert [d.path for d in receiver.deliveries] == ["/one", "/two"]
    assert [a["status"] for a in again] == ["succeeded", "succeeded"]
    assert again[0]["run_status"] is None and again[1]["run_status"] == "succeeded"
    kinds = [e["kind"] for e in events(rt, inc) if e["actor"] == f"run:{run.id}"]
    assert kinds == [
        "run_started",
        "run_step_started",
        "run_step_finished",
        "run_step_started",
        "run_step_finished",
        "run_finished",
    ]
