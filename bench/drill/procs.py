"""defib processes the storm kills: `defib serve` and `defib worker`, restarted at once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from defib.testing import defib_executable


@dataclass
class Proc:
    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    logs: Path
    ready_url: str | None = None  # serve: GET it until 200; worker: "ready" in its log
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    exits: list[int] = field(default_factory=list)  # exit codes of deaths we did not cause

    @property
    def log(self) -> Path:
        return self.logs / f"{self.name}-{self.starts}.log"

    def spawn(self) -> None:
        """Start without waiting: the next kill may land while it is still starting."""
        self.starts += 1
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [defib_executable(), *self.args],
                env={**os.environ, **self.env},
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.logs,
            )

    def kill(self) -> None:
        """SIGKILL: nothing in the process gets to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        self.proc = None  # down until `spawn`: not a death for `revive` to answer
        self.kills += 1

    def revive(self) -> bool:
        """Restart it if it died by itself (a supervisor's job); True if it had."""
        if self.proc is not None and (code := self.proc.poll()) is not None:
            self.exits.append(code)
            self.spawn()
            return True
        return False

    def is_ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        if self.ready_url is not None:
            try:
                return httpx.get(self.ready_url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        return b"ready" in self.log.read_bytes()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            self.revive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:g} s:\n{self.tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
