"""Durability drills with real processes: SIGKILL a worker at random points, restart it.

A real `defib worker` runs playbooks whose webhook steps hit a real receiver on loopback
that applies each Idempotency-Key's effect once. After the drill every run has completed,
no step was delivered after it had completed (completed steps never re-execute), and every
key's effect happened exactly once.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.playbooks.runs import TERMINAL_STATUSES, Run, RunStatus
from tests.support.engine import FAST_ENV, declare, only_run, wait_run
from tests.support.engine.procs import WorkerProcess
from tests.support.engine.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TYPES = [IncidentType.TOXICITY, IncidentType.HALLUCINATION, IncidentType.BIAS]


def drill_playbook(url: str) -> str:
    retry = "{count: 8, backoff_seconds: 0.05, max_backoff_seconds: 0.3}"
    return f"""
    name: drill
    applies_to: [hallucination, toxicity, data_leak, performance, availability, bias]
    steps:
      - {{name: contain, action: webhook, params: {{url: "{url}/contain"}}, retries: {retry}}}
      - {{name: log, action: note, params: {{text: "contained {{{{ incident.id }}}}"}}}}
      - {{name: notify, action: webhook, params: {{url: "{url}/notify"}}, retries: {retry}}}
      - {{name: verify, action: webhook, params: {{url: "{url}/verify"}}, retries: {retry}}}
    """


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    made: list[WorkerProcess] = []

    def make(database_url: str, name: str = "worker", **env: str) -> WorkerProcess:
        w = WorkerProcess(
            tmp_path,
            {
                **FAST_ENV,
                "DEFIB_DATABASE_URL": database_url,
                "DEFIB_DATA_DIR": str(tmp_path / "data"),
                "DEFIB_PLAYBOOKS_DIR": os.environ["DEFIB_PLAYBOOKS_DIR"],
                "DEFIB_EXECUTOR_ID": name,
                **env,
            },
            name=name,
        )
        made.append(w)
        return w

    yield make
    for w in made:
        w.kill()


def all_runs(rt: Runtime, incidents: list[str]) -> list[Run]:
    return [r for inc in incidents for r in rt.engine.list_runs(inc)]


def wait_all(rt: Runtime, incidents: list[str], timeout: float, worker: WorkerProcess) -> list[Run]:
    deadline = time.monotonic() + timeout
    while True:
        runs = all_runs(rt, incidents)
        if runs and all(r.status in TERMINAL_STATUSES for r in runs):
            return runs
        if time.monotonic() > deadline:
            stuck = [(r.id, r.status, [s.status.value for s in r.steps]) for r in runs]
            raise AssertionError(f"runs stuck: {stuck}\n{worker.log_text()}")
        time.sleep(0.1)


def test_crash_drill_every_run_completes_and_every_effect_happens_once(
    database_url: str,
    make_runtime: Callable[..., Runtime],
    playbook_dir: Callable[[str], Path],
    receiver: Receiver,
    workers: Callable[..., WorkerProcess],
) -> None:
    """20 SIGKILLs on SQLite, 10 on PostgreSQL, at random points; then everything is exact."""
    kills = 20 if database_url.startswith("sqlite") else 10
    seed = int(os.environ.get("DEFIB_DRILL_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    playbook_dir(drill_playbook(receiver.url))
    receiver.delay.update({"/contain": 0.08, "/notify": 0.15, "/verify": 0.08})
    rt = make_runtime()
    worker = workers(database_url, name="drill")
    incidents = [declare(rt, TYPES[i % 3], title=f"drill {i}") for i in range(6)]
    for k in range(kills):
        worker.start()
        time.sleep(rng.uniform(0.02, 0.45))
        worker.kill()
        if k % 3 == 2:
            incidents += [declare(rt, TYPES[k % 3], title=f"drill late {k} {j}") for j in range(2)]
        # Flakiness on the receiver side too: some attempts fail and are retried.
        if k % 5 == 0:
            receiver.fail_first["/notify"] = 1
    worker.start()
    runs = wait_all(rt, incidents, 90, worker)
    worker.stop()

    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(runs), f"seed {seed}"
    assert len(runs) == len(incidents)
    deliveries = receiver.keys()
    for run in runs:
        for step in run.steps:
            if step.action != "webhook":
                continue
            key = f"{run.id}:{step.index}"
            assert receiver.effects[key] == 1, (key, seed)
            assert deliveries[key] >= 1
            assert step.ended_at is not None
            late = [d for d in receiver.for_key(key) if d.at > step.ended_at.timestamp() + 0.001]
            assert late == [], f"step {key} re-executed after it completed (seed {seed})"
    for inc, run in zip(incidents, runs, strict=True):
        kinds = Counter(e.kind for e in rt.incidents.timeline(inc) if e.actor == f"run:{run.id}")
        assert kinds["run_finished"] == 1
        assert kinds["run_step_finished"] == 4
        assert kinds["note"] == 1
    repeats = sum(deliveries.values()) - len(deliveries)
    print(f"seed={seed} kills={kills} runs={len(runs)} redeliveries={repeats}")


def test_approval_survives_a_kill_and_its_timeout_keeps_the_original_deadline(
    database_url: str,
    make_runtime: Callable[..., Runtime],
    playbook_dir: Callable[[str], Path],
    receiver: Receiver,
    workers: Callable[..., WorkerProcess],
) -> None:
    """Approve while no worker runs; restart; it continues. A deadline ignores the restart."""
    playbook_dir(
        f"""
        name: gated
        applies_to: [hallucination, toxicity, data_leak, performance, availability, bias]
        steps:
          - name: tell-users
            action: webhook
            params: {{url: "{receiver.url}/users"}}
            approval: {{required: true, role: responder, timeout_seconds: 600}}
          - name: cool-down
            action: webhook
            params: {{url: "{receiver.url}/after"}}
            approval: {{required: true, role: responder, timeout_seconds: 4, on_timeout: proceed}}
        """
    )
    rt = make_runtime()
    worker = workers(database_url, name="gate").start()
    inc = declare(rt)
    run_id = only_run(rt, inc).id
    wait_run(rt, run_id, lambda r: r.steps[0].status is RunStatus.WAITING_APPROVAL)
    worker.kill()
    # No worker is running: the approval goes to DBOS through a client, durably.
    rt.engine.decide(run_id, 0, approve=True, actor="alice", role="responder", note="ok")
    worker.start()
    run = wait_run(rt, run_id, lambda r: r.steps[1].status is RunStatus.WAITING_APPROVAL)
    assert run.steps[0].status is RunStatus.SUCCEEDED
    assert run.steps[0].approval is not None and run.steps[0].approval["by"] == "alice"
    deadline = run.steps[1].deadline_at
    assert deadline is not None
    worker.kill()
    time.sleep(0.5)
    worker.start()
    run = wait_run(rt, run_id, timeout=30)
    worker.stop()
    assert run.status is RunStatus.SUCCEEDED
    (timed_out,) = [
        e for e in rt.incidents.timeline(inc) if e.kind == "run_step_approval_timed_out"
    ]
    # A fresh 4 s wait after the restart would fire >= 2 s later than the original deadline.
    assert deadline.timestamp() - 0.3 <= timed_out.at.timestamp() <= deadline.timestamp() + 1.2
    assert [d.path for d in receiver.deliveries] == ["/users", "/after"]
    assert receiver.effects == Counter({f"{run_id}:0": 1, f"{run_id}:1": 1})


def test_two_workers_on_postgresql_one_killed_for_good_the_other_finishes(
    database_url: str,
    make_runtime: Callable[..., Runtime],
    playbook_dir: Callable[[str], Path],
    receiver: Receiver,
    workers: Callable[..., WorkerProcess],
) -> None:
    """The janitor hands a dead worker's PENDING runs to the live one."""
    if database_url.startswith("sqlite"):
        pytest.skip("several workers share PostgreSQL; SQLite is one embedded process")
    playbook_dir(drill_playbook(receiver.url))
    receiver.delay.update({"/contain": 0.3, "/notify": 0.3, "/verify": 0.3})
    rt = make_runtime()
    one = workers(database_url, name="one").start()
    incidents = [declare(rt, TYPES[i % 3], title=f"pair {i}") for i in range(8)]
    # Worker two starts only once worker one holds a run: started together or right after the
    # runs were queued, a loaded CI let two claim every run before one had even booted.
    deadline = time.monotonic() + 60
    stranded: list[str] = []
    while not stranded and time.monotonic() < deadline:
        time.sleep(0.1)
        # A fresh transaction per poll: one snapshot would never see worker one's claim.
        with rt.db.read() as conn:
            stranded = list(
                conn.execute(
                    text(
                        "SELECT workflow_uuid FROM dbos.workflow_status "
                        "WHERE executor_id = 'one' AND status = 'PENDING'"
                    )
                ).scalars()
            )
    assert stranded, f"worker one never picked up a run\n{one.log_text()}"
    one.kill()
    two = workers(database_url, name="two").start()
    runs = wait_all(rt, incidents, 90, two)
    two.stop()
    assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
    by_id = {r.id: r for r in runs}
    assert all(by_id[w].status is RunStatus.SUCCEEDED for w in stranded)
    for run in runs:
        for step in run.steps:
            if step.action == "webhook":
                assert receiver.effects[f"{run.id}:{step.index}"] == 1
