"""The README's tour and Python example work as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from defib.testing import ServerProcess, defib_executable

README = Path(__file__).resolve().parent.parent / "README.md"


def block(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- {name}:start -->\n```\w+\n(.*?)```\n<!-- {name}:end -->", text, re.S)
    assert match, f"README lost its {name} block"
    return match.group(1)


def test_readme_quickstart_is_the_two_commands() -> None:
    text = README.read_text()
    quick = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make \w+", quick, re.M)
    assert commands == ["make run", "make test"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tour_runs_as_written(database_url: str, tmp_path: Path) -> None:
    """Run the tour's shell block against a real server (port and venv path substituted)."""
    server = ServerProcess(tmp_path, env={"DEFIB_DATABASE_URL": database_url}).start()
    try:
        script = block("tour").replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        script = script.replace(".venv/bin/defib", defib_executable())
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=server.client_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    assert '"action":"created"' in out.stdout
    assert '"action":"merged"' in out.stdout
    assert "INC-1" in out.stdout and "Toxic replies from chat-api" in out.stdout
    assert "INC-1 is now acknowledged" in out.stdout
    assert "on it" in out.stdout  # the note, on the timeline


def test_python_example_runs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", block("python-example")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["INC-1", "toxicity", "SEV1", "detected"]
