"""Wake-ups: a worker starts a new run when it is enqueued, not at its next queue poll.

Every worker here polls DBOS's queue only once a minute and sweeps once a minute, so a
run that starts within seconds was started by a wake-up: the in-process signal (the
enqueuing process runs the engine) or PostgreSQL's NOTIFY (another process enqueued).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from defib.bootstrap import Runtime
from defib.playbooks.engine import wakeup
from defib.playbooks.engine.worker import Worker
from defib.playbooks.runs import RunStatus
from tests.support.engine import FAST_ENV, declare, only_run, wait_run
from tests.support.engine.procs import WorkerProcess

# The longest poll the settings allow: a run started by the poll waits up to this long.
SLOW_POLL = {"DEFIB_ENGINE_POLL_SECONDS": "60", "DEFIB_ENGINE_SWEEP_SECONDS": "60"}
# Generous for a loaded CI machine, and far below SLOW_POLL's minute.
WAKE_BOUND_SECONDS = 15.0

NOTE_PLAYBOOK = """
name: wake
applies_to: [toxicity]
steps:
  - {name: one, action: note, params: {text: "woken {{ incident.id }}"}}
"""


def _first_step_started_within(rt: Runtime, incident_id: str, bound: float) -> float:
    """Seconds from now until the incident's run started its first step (fails past `bound`)."""
    t0 = time.monotonic()
    run = wait_run(
        rt,
        only_run(rt, incident_id).id,
        until=lambda r: r.steps[0].status is not RunStatus.PENDING,
        timeout=bound,
    )
    assert run.steps[0].started_at is not None
    return time.monotonic() - t0


def test_a_worker_in_the_enqueuing_process_starts_the_run_without_waiting_for_its_poll(
    make_runtime: Callable[..., Runtime],
    playbook_dir: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    playbook_dir(NOTE_PLAYBOOK)
    for key, value in SLOW_POLL.items():
        monkeypatch.setenv(key, value)
    rt = make_runtime()
    assert rt.engine.tuning.poll_seconds == 60
    worker = Worker(rt.engine, executor_id=f"wake-{time.monotonic_ns()}").start()
    try:
        for _ in range(3):  # every run, not only the first after launch
            incident_id = declare(rt)
            _first_step_started_within(rt, incident_id, WAKE_BOUND_SECONDS)
    finally:
        worker.stop()


def test_a_notified_worker_in_another_process_starts_the_run_without_waiting_for_its_poll(
    make_runtime: Callable[..., Runtime],
    playbook_dir: Callable[[str], Path],
    database_url: str,
    tmp_path: Path,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite's other processes poll")
    playbook_dir(NOTE_PLAYBOOK)
    rt = make_runtime()  # enqueues through a DBOS client: no worker in this process
    worker = WorkerProcess(
        tmp_path,
        {
            **FAST_ENV,
            **SLOW_POLL,
            "DEFIB_DATABASE_URL": database_url,
            "DEFIB_DATA_DIR": str(tmp_path / "worker-data"),
            "DEFIB_EXECUTOR_ID": f"wake-{time.monotonic_ns()}",
        },
        name="notified",
    ).start()
    try:
        for _ in range(3):
            incident_id = declare(rt)
            try:
                _first_step_started_within(rt, incident_id, WAKE_BOUND_SECONDS)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nworker log:\n{worker.log_text()}") from exc
        assert not rt.engine.launched
    finally:
        worker.stop()


def test_notify_is_a_no_op_on_sqlite_and_reaches_a_listener_on_postgresql(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime()
    woken: list[float] = []
    if rt.db.is_sqlite:
        wakeup.notify(rt.db)  # nothing to send, nothing raised
        return
    listener = wakeup.RunListener(rt.db.url, lambda: woken.append(time.monotonic())).start()
    try:
        before = len(woken)  # the listener looks once as it starts
        wakeup.notify(rt.db)
        deadline = time.monotonic() + WAKE_BOUND_SECONDS
        while len(woken) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(woken) > before
    finally:
        listener.stop()
