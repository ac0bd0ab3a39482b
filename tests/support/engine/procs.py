"""Real `defib worker` subprocesses for the crash, approval and takeover drills."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from defib.testing import defib_executable


@dataclass
class WorkerProcess:
    workdir: Path
    env: dict[str, str]
    name: str = "worker"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_paths: list[Path] = field(default_factory=list)

    def start(self, *, wait_ready: bool = True, timeout: float = 30.0) -> WorkerProcess:
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        log = self.workdir / f"{self.name}-{self.starts}.log"
        self.log_paths.append(log)
        with log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [defib_executable(), "worker"],
                cwd=self.workdir,
                env={**os.environ, **self.env},
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        if wait_ready:
            deadline = time.monotonic() + timeout
            while b"ready" not in log.read_bytes():
                if self.proc.poll() is not None:
                    raise RuntimeError(f"worker exited early: {self.log_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker not ready: {self.log_text()}")
                time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the worker."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.log_paths[-2:])
