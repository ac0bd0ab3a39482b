"""Crash drill with the real actions: SIGKILL a `defib worker` at random points while it
disables endpoints on a control plane, notifies owners (Slack, webhook, PagerDuty) and
re-enables; after restarts every notification and command was delivered under exactly
one key (the receiver applies each key once), and the timeline records each once."""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.playbooks.runs import TERMINAL_STATUSES, RunStatus
from defib.systems.control import STATE_CHANGED, ControlService
from tests.support.engine import FAST_ENV, declare
from tests.support.engine.procs import WorkerProcess
from tests.support.engine.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SYSTEMS = 5
RETRY = {"count": 8, "backoff_seconds": 0.05, "max_backoff_seconds": 0.3}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def write_config(tmp_path: Path, url: str) -> Path:
    config = {
        "systems": [
            {
                "name": f"sys{i}",
                "control": {"kind": "http", "url": f"{url}/control/{i}"},
                "owners": {
                    "slack_webhook": f"{url}/slack/{i}",
                    "webhooks": [{"url": f"{url}/hook/{i}"}],
                    "pagerduty_routing_key": f"RK{i}",
                },
            }
            for i in range(SYSTEMS)
        ],
        "notifications": {
            "pagerduty": {"events_url": f"{url}/pd"},
            "retries": {"attempts": 3, "backoff_seconds": 0.02, "max_backoff_seconds": 0.1},
        },
        "gateway": {"embedded": False},
    }
    path = tmp_path / "defib.yaml"
    path.write_text(yaml.safe_dump(config))
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    steps = [
        {"name": "contain", "action": "disable_endpoint", "retries": RETRY},
        {"name": "tell", "action": "notify_team", "retries": RETRY},
        {"name": "restore", "action": "enable_endpoint", "retries": RETRY},
    ]
    (playbooks / "drill.yaml").write_text(
        yaml.safe_dump({"name": "drill", "applies_to": ["toxicity"], "steps": steps})
    )
    return path


def test_crash_drill_delivers_each_notification_and_command_once(
    database_url: str,
    make_runtime: Callable[..., Runtime],
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kills = 8 if database_url.startswith("sqlite") else 5
    seed = int(os.environ.get("DEFIB_DRILL_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    config = write_config(tmp_path, receiver.url)
    monkeypatch.setenv("DEFIB_PLAYBOOKS_DIR", str(tmp_path / "playbooks"))
    receiver.delay.update({f"/slack/{i}": 0.12 for i in range(SYSTEMS)})
    receiver.delay.update({f"/control/{i}": 0.08 for i in range(SYSTEMS)})
    rt = make_runtime(**yaml.safe_load(config.read_text()))
    worker = WorkerProcess(
        tmp_path,
        {
            **FAST_ENV,
            "DEFIB_DATABASE_URL": database_url,
            "DEFIB_DATA_DIR": str(tmp_path / "data"),
            "DEFIB_PLAYBOOKS_DIR": str(tmp_path / "playbooks"),
            "DEFIB_CONFIG": str(config),
            "DEFIB_EXECUTOR_ID": "drill",
        },
        name="drill",
    )
    try:
        incidents = [
            declare(rt, IncidentType.TOXICITY, systems=(f"sys{i}",), title=f"drill {i}")
            for i in range(SYSTEMS)
        ]
        for k in range(kills):
            worker.start()
            time.sleep(rng.uniform(0.05, 0.6))
            worker.kill()
            if k % 3 == 0:
                receiver.fail_first[f"/hook/{k % SYSTEMS}"] = 1
        worker.start()
        deadline = time.monotonic() + 120
        while True:
            runs = [r for inc in incidents for r in rt.engine.list_runs(inc)]
            if len(runs) == SYSTEMS and all(r.status in TERMINAL_STATUSES for r in runs):
                break
            assert time.monotonic() < deadline, f"stuck (seed {seed}): {worker.log_text()}"
            time.sleep(0.1)
    finally:
        worker.kill()

    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * SYSTEMS, f"seed {seed}"
    keys_by_path: dict[str, set[str]] = defaultdict(set)
    pd_keys: dict[str, set[str]] = defaultdict(set)
    for d in receiver.deliveries:
        assert d.key is not None
        if d.path == "/pd":
            pd_keys[d.json()["routing_key"]].add(d.key)
        else:
            keys_by_path[d.path].add(d.key)
    for i, (inc, run) in enumerate(zip(incidents, runs, strict=True)):
        # One key per notification target: the receiver applied each one exactly once.
        assert len(keys_by_path[f"/slack/{i}"]) == 1, (i, seed)
        assert len(keys_by_path[f"/hook/{i}"]) == 1, (i, seed)
        assert len(pd_keys[f"RK{i}"]) == 1, (i, seed)
        control = sorted(keys_by_path[f"/control/{i}"])
        assert control == [f"{run.id}:0:sys{i}:disable", f"{run.id}:2:sys{i}:enable"], seed
        actions = {
            d.key: d.json()["action"] for d in receiver.deliveries if d.path == f"/control/{i}"
        }
        assert sorted(actions.values()) == ["disable", "enable"]
        events = [e for e in rt.incidents.timeline(inc) if e.actor == f"run:{run.id}"]
        kinds = [e.kind for e in events]
        assert kinds.count("run_step_notification_sent") == 3, (i, seed)
        assert [e.data["change"] for e in events if e.kind == STATE_CHANGED] == [
            "disable",
            "enable",
        ]
        state = ControlService(rt.db).state(f"sys{i}")
        assert state is not None and not state.disabled
    distinct = len({d.key for d in receiver.deliveries})
    repeats = len(receiver.deliveries) - distinct
    print(f"seed={seed} kills={kills} keys={distinct} repeated_under_same_key={repeats}")
