"""Running an ASGI app under uvicorn in a background thread (embedded gateway, tests, demo)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class ThreadedServer:
    """uvicorn in a daemon thread: `start()` returns once it listens; `stop()` shuts it down.

    uvicorn installs signal handlers only in the main thread, so the process's Ctrl-C
    stays with whoever runs there; they call `stop()`.
    """

    def __init__(
        self, app: Any, host: str, port: int, *, log_level: str = "warning", **options: Any
    ) -> None:
        # Bounded: a stream left open by a client must not hold a shutdown forever.
        options.setdefault("timeout_graceful_shutdown", 5)
        config = uvicorn.Config(
            app, host=host, port=port, log_level=log_level, access_log=False, **options
        )
        self.server = uvicorn.Server(config)
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        self._thread = threading.Thread(target=self.server.run, name="defib-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start in {timeout:g} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self.server.should_exit = True
        self._thread.join(timeout=timeout)
        self._thread = None
