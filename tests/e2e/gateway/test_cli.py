"""`defib serve` runs the gateway on its own port; `defib gateway` runs it alone. Both
print where they listen and stop cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from defib.gateway.server import ThreadedServer
from defib.testing import ServerProcess, defib_executable, free_port
from tests.support.gateway import sqlite_only, system

pytestmark = [pytest.mark.slow, sqlite_only]


def _config(tmp_path: Path, upstream: ThreadedServer) -> Path:
    path = tmp_path / "defib.yaml"
    cfg = {
        "gateway": {"allow_anonymous": True},
        "systems": [system("chat-api", upstream.url, active_version="v1")],
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _ask(base: str) -> httpx.Response:
    return httpx.post(
        f"{base}/systems/chat-api/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hello"}]},
        timeout=10,
    )


def _interrupt(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=20)


def test_serve_embeds_the_gateway_and_stops_on_ctrl_c(
    tmp_path: Path, database_url: str, upstream: ThreadedServer
) -> None:
    gw_port = free_port()
    env = {
        "DEFIB_DATABASE_URL": database_url,
        "DEFIB_CONFIG": str(_config(tmp_path, upstream)),
        "DEFIB_GATEWAY": json.dumps({"port": gw_port, "allow_anonymous": True}),
    }
    server = ServerProcess(tmp_path, env=env, args=("--no-worker",)).start()
    try:
        assert server.proc is not None
        answer = _ask(f"http://127.0.0.1:{gw_port}")
        assert answer.status_code == 200
        assert answer.json()["model"] == "demo-v1"
        # Anonymous access is allowed here, so it is said at start and on /readyz.
        warnings = httpx.get(f"{server.url}/readyz").json()["warnings"]
        (warning,) = [w for w in warnings if "allow_anonymous" in w]
        assert "chat-api" in warning
        assert "gateway.allow_anonymous is on" in server.log_text()
        assert _interrupt(server.proc) == 0
        assert f"defib gateway on http://127.0.0.1:{gw_port}/v1" in server.log_text()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{gw_port}/healthz")
    finally:
        server.stop()


def test_serve_no_gateway(tmp_path: Path, database_url: str, upstream: ThreadedServer) -> None:
    gw_port = free_port()
    env = {"DEFIB_DATABASE_URL": database_url, "DEFIB_GATEWAY": json.dumps({"port": gw_port})}
    server = ServerProcess(tmp_path, env=env, args=("--no-worker", "--no-gateway")).start()
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{gw_port}/healthz")
    finally:
        server.stop()


def test_gateway_command_serves_alone(
    tmp_path: Path, database_url: str, upstream: ThreadedServer
) -> None:
    port = free_port()
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                defib_executable(),
                "gateway",
                "-c",
                str(_config(tmp_path, upstream)),
                "--port",
                str(port),
            ],
            cwd=tmp_path,
            env={**os.environ, "DEFIB_DATABASE_URL": database_url},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert _ask(f"http://127.0.0.1:{port}").json()["model"] == "demo-v1"
        assert _interrupt(proc) == 0
        assert f"defib gateway on http://127.0.0.1:{port}/v1 (chat-api)" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_keeps_the_api_up_when_the_gateway_port_is_taken(
    tmp_path: Path, database_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"DEFIB_DATABASE_URL": database_url, "DEFIB_GATEWAY": json.dumps({"port": port})}
        server = ServerProcess(tmp_path, env=env, args=("--no-worker",)).start()
        try:
            assert httpx.get(f"{server.url}/readyz").status_code == 200
            assert "gateway not started" in server.log_text()
        finally:
            server.stop()
