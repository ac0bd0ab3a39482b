"""Issue 10's reproduction: SIGKILL `defib serve` twice while a run sleeps in `wait` steps.

When the process is down past a wait's wake-up time, the replay must still make the same
sequence of DBOS calls as the first execution (it used to skip the sleep, diverge with
`DBOSUnexpectedStepError`, and leave the run `running` forever after one delivery).
"""

from __future__ import annotations

import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from defib.testing import ServerProcess
from tests.support.engine import FAST_ENV
from tests.support.engine.receiver import Receiver

pytestmark = [pytest.mark.slow]


def playbook(url: str) -> str:
    return textwrap.dedent(
        f"""
        name: paced
        applies_to: [availability]
        steps:
          - {{name: first, action: webhook, params: {{url: "{url}/1"}}}}
          - {{name: pause-1, action: wait, params: {{seconds: 2}}}}
          - {{name: second, action: webhook, params: {{url: "{url}/2"}}}}
          - {{name: pause-2, action: wait, params: {{seconds: 2}}}}
          - {{name: third, action: webhook, params: {{url: "{url}/3"}}}}
        """
    )


@pytest.fixture
def serve(tmp_path: Path, database_url: str, receiver: Receiver) -> Iterator[ServerProcess]:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "paced.yaml").write_text(playbook(receiver.url), encoding="utf-8")
    srv = ServerProcess(
        tmp_path,
        env={
            **FAST_ENV,
            "DEFIB_DATABASE_URL": database_url,
            "DEFIB_PLAYBOOKS_DIR": str(directory),
            # A fixed executor id: the restarted process recovers its own runs at once.
            "DEFIB_EXECUTOR_ID": "divergence",
        },
    )
    yield srv
    srv.stop()


def sigkill(srv: ServerProcess) -> None:
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    srv.proc = None


def test_run_survives_two_kills_across_its_waits(serve: ServerProcess, receiver: Receiver) -> None:
    serve.start()
    token = (serve.workdir / ".defib" / "admin-token").read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    alert = {
        "source": "drill",
        "type": "availability",
        "title": "chat-api down",
        "systems": ["chat-api"],
        "severity": "critical",
    }
    r = httpx.post(f"{serve.url}/api/v1/alerts", json=alert, headers=auth, timeout=30)
    assert r.status_code == 202, r.text
    incident = r.json()["results"][0]["incident_id"]
    time.sleep(1.3)
    sigkill(serve)  # asleep in the first wait (woken up at ~2 s, while down)
    time.sleep(1.0)
    serve.start()
    time.sleep(2.1)
    sigkill(serve)  # the second wait's deadline passes while down
    time.sleep(2.0)
    serve.start()

    deadline = time.monotonic() + 60
    while True:
        runs = httpx.get(
            f"{serve.url}/api/v1/incidents/{incident}/runs", headers=auth, timeout=10
        ).json()["items"]
        if runs and runs[0]["status"] not in ("pending", "running", "waiting_approval"):
            break
        assert time.monotonic() < deadline, f"run stuck: {runs}\n{serve.log_text()}"
        time.sleep(0.2)
    (run,) = runs
    assert run["status"] == "succeeded", (run, serve.log_text())
    assert [s["status"] for s in run["steps"]] == ["succeeded"] * 5
    assert receiver.effects == {f"{run['id']}:{i}": 1 for i in (0, 2, 4)}
    assert "DBOSUnexpectedStepError" not in serve.log_text()
