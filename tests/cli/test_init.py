"""`defib init` writes a configuration that loads; `defib catch`'s catcher describes what
it receives in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from defib.catcher import describe
from defib.config import load_settings
from defib.testing import defib_executable


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [defib_executable(), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_init_writes_an_example_that_loads_and_never_overwrites(tmp_path: Path) -> None:
    out = _cli("init", "--catch-port", "9911", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    settings = load_settings(tmp_path / "defib.yaml")
    [system] = settings.systems
    assert [v.name for v in system.versions] == ["v1", "v2"]
    assert system.active_version == "v2" and system.probes
    assert system.owners.slack_webhook == "http://127.0.0.1:9911/slack"
    (tmp_path / "defib.yaml").write_text("# mine\n")
    again = _cli("init", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr == "defib: error: defib.yaml exists; pass --force to overwrite it\n"
    assert (tmp_path / "defib.yaml").read_text() == "# mine\n"
    assert _cli("init", "--force", cwd=tmp_path).returncode == 0
    assert "support-bot" in (tmp_path / "defib.yaml").read_text()


def test_systems_list_without_systems_says_how_to_get_some(tmp_path: Path) -> None:
    out = _cli("systems", "list", cwd=tmp_path)
    assert out.returncode == 0
    assert "defib init" in out.stdout


def test_the_catcher_prints_slack_text_and_webhook_events_in_one_line() -> None:
    assert describe("/slack", {"text": "INC-1 SEV1\\nleak"}) == "[slack] INC-1 SEV1\\nleak"
    assert describe("/slack", {"text": "INC-1 SEV1\nleak"}) == "[slack] INC-1 SEV1 leak"
    event = {"event": "incident.created", "incident": {"id": "INC-3", "title": "Leak"}}
    assert describe("/webhook", event) == "[webhook] incident.created INC-3: Leak"
    assert describe("/", [1, 2]) == "[webhook] [1,2]"
