"""A real `defib worker` SIGKILLed between escalation levels neither loses nor repeats a page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from defib.bootstrap import Runtime
from defib.model import IncidentType, Severity
from defib.playbooks.runs import RunStatus
from tests.support.actions.peers import HttpPeer
from tests.support.engine import FAST_ENV, declare, wait_run
from tests.support.engine.procs import WorkerProcess
from tests.support.oncall import oncall_config
from tests.unit.oncall.test_escalation import escalation_run, on_call_now, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def worker_for(tmp_path: Path) -> Iterator[Callable[[str, Path], WorkerProcess]]:
    made: list[WorkerProcess] = []

    def make(database_url: str, config: Path) -> WorkerProcess:
        env = {
            **FAST_ENV,
            "DEFIB_DATABASE_URL": database_url,
            "DEFIB_DATA_DIR": str(tmp_path / "data"),
            "DEFIB_CONFIG": str(config),
            "DEFIB_EXECUTOR_ID": "oncall-worker",
        }
        w = WorkerProcess(tmp_path, env, name="oncall-worker")
        made.append(w)
        return w

    yield make
    for w in made:
        w.kill()


def test_kill_between_levels_pages_level_two_once_on_time(
    make_runtime: Callable[..., Runtime],
    database_url: str,
    tmp_path: Path,
    http_peer: HttpPeer,
    worker_for: Callable[[str, Path], WorkerProcess],
) -> None:
    """Level 1 sent, the worker killed -9 while it waits for level 2, restarted: carol is
    paged once, not before its delay, and level 1 is not sent again."""
    config = oncall_config(http_peer, level2_after="4s")
    path = tmp_path / "defib.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    rt = make_runtime(**config)
    worker = worker_for(database_url, path).start()
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))
    first = on_call_now(rt)
    wait_for(lambda: bool(http_peer.at(f"/{first}")), timeout=60)
    paged_at = time.monotonic()
    run_id = escalation_run(rt, inc).id
    # The wait step is sleeping (its deadline recorded): the moment to kill.
    wait_run(rt, run_id, until=lambda r: r.steps[1].status is RunStatus.RUNNING, timeout=30)
    worker.kill()
    assert http_peer.at("/carol") == []
    time.sleep(1.0)
    worker.start()
    wait_for(lambda: bool(http_peer.at("/carol")), timeout=60)
    assert time.monotonic() - paged_at >= 3.5  # not before its delay, crash or not
    run = wait_run(rt, run_id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, run
    assert len(http_peer.at(f"/{first}")) == 1 and len(http_peer.at("/carol")) == 1
    sent = [e.data for e in rt.incidents.timeline(inc) if e.kind == "page_sent"]
    assert sorted((d["level"], d["person"]) for d in sent) == [(1, first), (2, "carol")]
