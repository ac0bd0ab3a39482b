"""Alertmanager's own `amtool` drives defib's silences against a real `defib serve`.

amtool comes from Debian's prometheus-alertmanager (`make test` installs it). Without it
these tests skip, unless DEFIB_TEST_REQUIRE_AMTOOL=1 (CI), where a missing amtool fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from defib.testing import ServerProcess, defib_executable

AMTOOL = shutil.which("amtool")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    if AMTOOL is None:
        if os.environ.get("DEFIB_TEST_REQUIRE_AMTOOL") == "1":
            pytest.fail("amtool required (DEFIB_TEST_REQUIRE_AMTOOL=1) but not on PATH")
        pytest.skip("amtool not installed (apt-get install prometheus-alertmanager)")
    srv = ServerProcess(
        tmp_path,
        env={"DEFIB_DATABASE_URL": database_url},
        args=("--no-worker", "--no-gateway"),
    ).start()
    yield srv
    srv.stop()


class Amtool:
    """amtool with a bearer token in its --http.config.file, as a team would set it up."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.url = server.url
        self.config = server.workdir / "amtool-http.yml"
        self.config.write_text(f"authorization:\n  type: Bearer\n  credentials: {token}\n")

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert AMTOOL is not None
        done = subprocess.run(
            [
                AMTOOL,
                f"--alertmanager.url={self.url}",
                f"--http.config.file={self.config}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def query(self, *args: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(self("silence", "query", "-o", "json", *args).stdout)
        return out


def _alert(server: ServerProcess, token: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/v1/alerts",
        json={"source": "monitor", "severity": "high", **body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


def _token(server: ServerProcess) -> str:
    return (server.workdir / ".defib" / "admin-token").read_text().strip()


def test_amtool_against_defib_serve(server: ServerProcess) -> None:
    """One server per backend (starting one costs seconds); each phase uses its own systems."""
    token = _token(server)
    amtool = Amtool(server, token)
    _add_query_expire(server, token, amtool)
    _inhibition(server, token)
    _regex_and_update(server, token, amtool)
    _defib_cli(server, token, amtool)


def _add_query_expire(server: ServerProcess, token: str, amtool: Amtool) -> None:
    """A silence added with amtool keeps chat-api's alert from opening an incident, another
    system's alert still opens one, and after `amtool silence expire` chat-api's does too."""
    added = amtool(
        "silence",
        "add",
        "system=chat-api",
        "--duration=2h",
        "--comment=v3 rollout",
        "--author=alice",
    )
    silence_id = added.stdout.strip()
    listed = amtool.query()
    assert [s["id"] for s in listed] == [silence_id]
    assert listed[0]["status"]["state"] == "active"
    # createdBy names the token (issue 25); the --author amtool sent is kept in the comment.
    assert listed[0]["createdBy"] == "admin"
    assert listed[0]["comment"] == "v3 rollout [createdBy from the client: alice]"
    assert listed[0]["matchers"] == [
        {"name": "system", "value": "chat-api", "isRegex": False, "isEqual": True}
    ]
    assert amtool("silence", "query", "-q", "system=chat-api").stdout.split() == [silence_id]
    assert amtool("silence", "query", "-q", "system=other").stdout.split() == []

    toxic = {"type": "toxicity", "title": "Toxic replies"}
    quiet = _alert(server, token, systems=["chat-api"], dedup_key="a", **toxic)
    assert quiet["action"] == "silenced"
    assert quiet["incident_id"] is None
    assert quiet["silenced_by"] == [silence_id]
    loud = _alert(server, token, systems=["search-api"], dedup_key="b", **toxic)
    assert loud["action"] == "created"

    amtool("silence", "expire", silence_id)
    assert amtool.query() == []  # amtool hides expired silences unless asked
    expired = amtool.query("--expired")
    assert [(s["id"], s["status"]["state"]) for s in expired] == [(silence_id, "expired")]
    again = _alert(server, token, systems=["chat-api"], dedup_key="a", **toxic)
    assert again["action"] == "created"


def _regex_and_update(server: ServerProcess, token: str, amtool: Amtool) -> None:
    """`=~` and `!=` matchers work on defib's derived labels; `amtool silence update` keeps
    the id and moves the end."""
    silence_id = amtool(
        "silence",
        "add",
        'severity=~"SEV3|SEV4"',
        "type!=bias",
        "--duration=1h",
        "--comment=noisy",
        "--author=bob",
    ).stdout.strip()
    before = amtool.query()[0]["endsAt"]
    amtool("silence", "update", silence_id, "--duration=3h")
    after = amtool.query()
    assert [s["id"] for s in after] == [silence_id]
    assert after[0]["endsAt"] > before

    slow = {"type": "performance", "title": "p99 latency high", "severity": "warning"}
    assert _alert(server, token, systems=["z"], dedup_key="p", **slow)["action"] == "silenced"
    down = {"type": "availability", "title": "z down", "severity": "critical"}
    assert _alert(server, token, systems=["z"], dedup_key="d", **down)["action"] == "created"


def _inhibition(server: ServerProcess, token: str) -> None:
    """With x's availability incident open, x's performance alert is recorded as inhibited and
    shown on that incident's timeline; y's performance alert opens its own incident."""
    down = _alert(
        server, token, type="availability", title="x down", systems=["x"], dedup_key="down"
    )
    assert down["action"] == "created"
    slow = {"type": "performance", "title": "x slow", "severity": "warning"}
    inhibited = _alert(server, token, systems=["x"], dedup_key="slow", **slow)
    assert inhibited["action"] == "inhibited"
    assert inhibited["inhibited_by"] == down["incident_id"]
    other = _alert(server, token, systems=["y"], dedup_key="slow-y", **slow)
    assert other["action"] == "created"
    timeline = httpx.get(
        f"{server.url}/api/v1/incidents/{down['incident_id']}/timeline",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    inhibited_events = [e for e in timeline["items"] if e["kind"] == "alert_inhibited"]
    assert [e["data"]["systems"] for e in inhibited_events] == [["x"]]


def _defib_cli(server: ServerProcess, token: str, amtool: Amtool) -> None:
    """`defib silences add|list|expire` works on the same silences amtool sees."""

    def defib(*args: str) -> str:
        done = subprocess.run(
            [defib_executable(), "silences", *args],
            cwd=server.workdir,
            env=server.client_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    sid = defib("add", "system=rollout-api", "--for", "2h", "--comment", "v3 rollout").strip()
    assert sid in {s["id"] for s in amtool.query("system=rollout-api")}
    assert sid in defib("list", "system=rollout-api")
    alert = {"type": "hallucination", "title": "made-up refunds"}
    assert _alert(server, token, systems=["rollout-api"], dedup_key="r", **alert)["action"] == (
        "silenced"
    )
    defib("expire", sid)
    assert sid not in defib("list")
    assert _alert(server, token, systems=["rollout-api"], dedup_key="r", **alert)["action"] == (
        "created"
    )
