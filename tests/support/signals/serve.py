"""`defib serve` in a subprocess for end-to-end tests, with an ingest and an admin token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.config import load_settings
from defib.store import tokens as token_repo
from defib.testing import free_port
from tests.support.engine import FAST_ENV

DEFIB = str(Path(sys.executable).with_name("defib"))


class Serve:
    """`defib serve` in a subprocess, with an ingest and an admin token; the gateway too
    with `gateway`."""

    def __init__(self, tmp: Path, systems: list[dict[str, Any]], *, gateway: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gateway_url = f"http://127.0.0.1:{free_port()}" if gateway else None
        settings: dict[str, Any] = {"data_dir": str(tmp / "data"), "systems": systems}
        if self.gateway_url is not None:
            settings["gateway"] = {"port": int(self.gateway_url.rsplit(":", 1)[1])}
        config = tmp / "defib.yaml"
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        runtime = Runtime(load_settings(config))
        with runtime.db.write() as conn:
            self.tokens = {}
            for role in (Role.INGEST, Role.ADMIN):
                token = generate_token()
                token_repo.create_token(
                    conn, name=role.value, role=role, token=token, created_by="t", now=utcnow()
                )
                self.tokens[role] = token
        runtime.close()
        env = {**os.environ, **FAST_ENV, "DEFIB_CONFIG": str(config)}
        self.log = (tmp / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [DEFIB, "serve", "--port", str(self.port), *([] if gateway else ["--no-gateway"])],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[Role.ADMIN]}"}
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self.api.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"defib serve did not start: {self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-3000:]

    def wait(self, path: str, ready: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.api.get(path).json()
            if ready(body):
                return body
            time.sleep(0.25)
        raise AssertionError(f"{path}: not ready in {timeout} s: {body}\n{self.output()}")

    def stop(self) -> None:
        self.api.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
