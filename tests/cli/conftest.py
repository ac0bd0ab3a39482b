"""CLI fixtures: a real `defib serve` subprocess on each backend."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from defib.testing import ServerProcess, defib_executable


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path, env={"DEFIB_DATABASE_URL": database_url}).start()
    yield srv
    srv.stop()


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(server: ServerProcess) -> Run:
    """Run the `defib` CLI against the server, from its working directory."""

    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [defib_executable(), *args],
            cwd=server.workdir,
            env=server.client_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return _run
