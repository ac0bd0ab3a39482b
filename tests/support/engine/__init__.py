"""Engine fixtures: a loopback receiver, playbook directories, an in-process worker."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from defib.bootstrap import Runtime
from defib.incidents.lifecycle import IncidentDraft
from defib.model import IncidentType, Severity
from defib.playbooks.runs import TERMINAL_STATUSES, Run
from tests.support.engine.receiver import Receiver

# Short timings so the suite stays fast; subprocess workers inherit them.
FAST_ENV = {
    "DEFIB_ENGINE_POLL_SECONDS": "0.05",
    "DEFIB_ENGINE_SWEEP_SECONDS": "0.5",
    "DEFIB_ENGINE_HEARTBEAT_SECONDS": "0.5",
    "DEFIB_ENGINE_HEARTBEAT_TTL_SECONDS": "3",
}


@pytest.fixture(autouse=True)
def _fast_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FAST_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def playbook_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write one user playbook (YAML text) and point DEFIB_PLAYBOOKS_DIR at its directory."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    monkeypatch.setenv("DEFIB_PLAYBOOKS_DIR", str(directory))

    def write(text: str, name: str = "test.yaml") -> Path:
        path = directory / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return directory

    return write


@pytest.fixture
def worker_runtime(make_runtime: Callable[..., Runtime]) -> Iterator[Runtime]:
    """A Runtime whose engine runs as a worker in this process (DBOS launched)."""
    from defib.playbooks.engine.worker import Worker

    rt = make_runtime()
    worker = Worker(rt.engine, executor_id=f"test-{os.getpid()}-{time.monotonic_ns()}").start()
    yield rt
    worker.stop()


def declare(rt: Runtime, type_: IncidentType = IncidentType.TOXICITY, **kw: Any) -> str:
    draft = IncidentDraft(
        type=type_,
        severity=kw.pop("severity", Severity.SEV2),
        title=kw.pop("title", "Toxic replies from chat-api"),
        affected_systems=kw.pop("systems", ("chat-api",)),
        labels=kw.pop("labels", {}),
    )
    return rt.incidents.declare(draft, "tester").id


def wait_run(
    rt: Runtime,
    run_id: str,
    until: Callable[[Run], bool] = lambda r: r.status in TERMINAL_STATUSES,
    timeout: float = 20.0,
) -> Run:
    deadline = time.monotonic() + timeout
    while True:
        run = rt.engine.get_run(run_id)
        if until(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(
                f"run {run_id} stuck: {run.status} {[s.status for s in run.steps]}"
            )
        time.sleep(0.05)


def only_run(rt: Runtime, incident_id: str) -> Run:
    runs = rt.engine.list_runs(incident_id)
    assert len(runs) == 1, runs
    return runs[0]
