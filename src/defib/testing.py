"""Helpers for tests of code that runs defib: start a real `defib serve` and wait for it.

Shipped as public code so users' integration tests can start defib the same way ours do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_http(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded HTTP server on a free loopback port, serving in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_http(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


def defib_executable() -> str:
    """The `defib` script next to the running interpreter (the venv's)."""
    candidate = Path(sys.executable).with_name("defib")
    return str(candidate) if candidate.exists() else "defib"


GATEWAY_ENV = "DEFIB_GATEWAY"


@dataclass
class ServerProcess:
    """A `defib serve` subprocess bound to loopback on a free port."""

    workdir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    # Its own gateway port too (unless `env` sets DEFIB_GATEWAY), so that servers in tests
    # never fight over 8001.
    gateway_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment for CLI subprocesses talking to this server."""
        return {**os.environ, **self.env, "DEFIB_URL": self.url}

    def start(self, timeout: float = 30.0) -> ServerProcess:
        log = (self.workdir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [defib_executable(), "serve", "--port", str(self.port), *self.args],
            cwd=self.workdir,
            # A test that configures the gateway itself (DEFIB_GATEWAY in `env`) wins.
            env={**os.environ, GATEWAY_ENV: json.dumps({"port": self.gateway_port}), **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"defib serve exited early: {self.log_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"defib serve did not become ready: {self.log_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
