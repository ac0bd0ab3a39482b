"""CLI fixtures: the CLI run in this process (Typer's runner isolation) against a server in
this process (the app, uvicorn and the playbook worker in threads), on each backend.

Starting `defib serve` and one `defib` interpreter per command cost seconds a test; the
in-process pair runs the same code over real loopback HTTP. `serve_process` is the real
subprocess, for the tests that are about the process itself (its output, its gateway).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from defib.testing import ServerProcess, free_port

if TYPE_CHECKING:
    from defib.bootstrap import Runtime


def run_cli(
    *args: str, cwd: Path, env: Mapping[str, str | None] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`defib ARGS` through `defib.cli.main` in this process, as the console script runs it
    (its one-line errors and exit codes), with stdin, stdout, stderr and `env` isolated."""
    from typer.testing import CliRunner

    from defib.cli import main

    old_argv, old_cwd = sys.argv, os.getcwd()
    with CliRunner().isolation(input=stdin, env=env) as (out, err, _):
        sys.argv = ["defib", *args]
        os.chdir(cwd)
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return subprocess.CompletedProcess(["defib", *args], code, stdout, stderr)


@dataclass
class InProcessServer:
    """What `defib serve` runs (Runtime, admin token, API, playbook worker), in threads of
    this process; `stop()` and `start()` again are a restart on the same database."""

    workdir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    runtime: Runtime | None = None
    _http: Any = None
    _worker: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment for CLI commands (in or out of process) talking to this server."""
        return {**os.environ, "DEFIB_DATABASE_URL": self.database_url, "DEFIB_URL": self.url}

    def start(self) -> InProcessServer:
        from defib.api import create_app
        from defib.bootstrap import Runtime
        from defib.config import load_settings
        from defib.gateway.server import ThreadedServer
        from defib.playbooks.engine.worker import Worker

        settings = load_settings(
            None, data_dir=self.workdir / ".defib", database_url=self.database_url
        )
        self.runtime = rt = Runtime(settings)
        rt.ensure_admin_token()
        app = create_app(rt, auth=True, own_runtime=False)
        self._http = ThreadedServer(app, "127.0.0.1", self.port).start()
        executor = f"cli-{os.getpid()}-{time.monotonic_ns()}"
        self._worker = Worker(rt.engine, executor_id=executor).start()
        return self

    def stop(self) -> None:
        """As `defib serve` stops: the API, then the worker, then the runtime they share."""
        for part in (self._http, self._worker):
            if part is not None:
                part.stop()
        if self.runtime is not None:
            self.runtime.close()
        self._http = self._worker = self.runtime = None


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[InProcessServer]:
    srv = InProcessServer(tmp_path, database_url).start()
    yield srv
    srv.stop()


@pytest.fixture
def serve_process(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real `defib serve` subprocess (for tests of the process: its output, its gateway)."""
    srv = ServerProcess(tmp_path, env={"DEFIB_DATABASE_URL": database_url}).start()
    yield srv
    srv.stop()


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(server: InProcessServer) -> Run:
    """Run the `defib` CLI (in this process) against the server, from its working directory."""
    env = {"DEFIB_DATABASE_URL": server.database_url, "DEFIB_URL": server.url}

    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=server.workdir, env=env, stdin=stdin)

    return _run
