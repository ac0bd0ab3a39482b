"""`defib serve` as a real process: what it prints and writes at first start, what it
refuses, and its gateway port (the CLI's other tests run the server in-process)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from defib.testing import ServerProcess, defib_executable


def test_first_start_writes_an_admin_token_file_0600(serve_process: ServerProcess) -> None:
    path = serve_process.workdir / ".defib" / "admin-token"
    assert path.read_text().startswith("defib_")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "admin token" in serve_process.log_text()


def test_insecure_no_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    out = subprocess.run(
        [defib_executable(), "serve", "--host", "0.0.0.0", "--insecure-no-auth"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "refused" in out.stderr and out.stderr.count("\n") == 1


def test_the_gateway_port_is_named_as_such(serve_process: ServerProcess) -> None:
    server = serve_process
    env = {**server.client_env(), "DEFIB_URL": f"http://127.0.0.1:{server.gateway_port}"}
    out = subprocess.run(
        [defib_executable(), "incidents", "list"],
        cwd=server.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "is defib's gateway" in out.stderr and "API port" in out.stderr
    assert "Unknown route" not in out.stderr
