"""`defib oncall` against a real `defib serve` with on-call config, on both databases."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from defib.testing import ServerProcess, defib_executable

CONFIG = {
    "people": [{"name": "alice"}, {"name": "bob"}, {"name": "carol"}],
    "schedules": [
        {
            "name": "ml-primary",
            "time_zone": "Europe/Berlin",
            "rotations": [{"people": ["alice", "bob"], "shift": "1d", "handoff": "09:00"}],
        }
    ],
}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    config = tmp_path / "defib.yaml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    env = {"DEFIB_DATABASE_URL": database_url, "DEFIB_CONFIG": str(config)}
    srv = ServerProcess(tmp_path, env=env).start()
    yield srv
    srv.stop()


def soon() -> str:
    return (datetime.now(UTC) + timedelta(hours=2)).isoformat()


def defib(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [defib_executable(), *args],
        cwd=server.workdir,
        env=server.client_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_oncall_at_a_time_then_an_override_wins(server: ServerProcess) -> None:
    """`oncall SCHEDULE --at` names the rotation's person (hand-off 09:00 Berlin = 08:00 UTC
    in winter); after `--override carol`, `oncall` names carol; bad input exits 2."""
    before = defib(server, "oncall", "ml-primary", "--at", "2026-01-10T07:59Z", "--json")
    after = defib(server, "oncall", "ml-primary", "--at", "2026-01-10T08:00Z", "--json")
    assert before.returncode == 0, before.stderr
    b = json.loads(before.stdout)["on_call"][0]["person"]
    a = json.loads(after.stdout)["on_call"][0]["person"]
    assert {a, b} == {"alice", "bob"}
    assert len(json.loads(after.stdout)["shifts"]) >= 14
    made = defib(server, "oncall", "ml-primary", "--override", "carol", "--until", soon())
    assert made.returncode == 0, made.stderr
    assert "carol on call for ml-primary" in made.stdout
    now = defib(server, "oncall", "--json")
    assert json.loads(now.stdout)[0]["person"] == "carol"
    table = defib(server, "oncall")
    assert "carol" in table.stdout and "override" in table.stdout
    bad = defib(server, "oncall", "ml-primary", "--override", "mallory", "--until", soon())
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "'mallory' is not in people:" in bad.stderr
    missing = defib(server, "oncall", "nope")
    assert missing.returncode == 2 and "not configured" in missing.stderr
    garbled = defib(server, "oncall", "--at", "tomorrow")
    assert garbled.returncode == 2 and "--at" in garbled.stderr
