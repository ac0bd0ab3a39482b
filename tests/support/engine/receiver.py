"""A real HTTP receiver on loopback that deduplicates on Idempotency-Key, as ours must."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from defib.testing import serve_http, stop_http


@dataclass
class Delivery:
    path: str
    key: str | None
    signature: dict[str, str]  # the Standard Webhooks headers that came with it
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every delivery; applies each key's effect once; can fail or stall on purpose."""

    deliveries: list[Delivery] = field(default_factory=list)
    effects: Counter[str] = field(default_factory=Counter)
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> failures left
    delay: dict[str, float] = field(default_factory=dict)  # path -> seconds
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (the crash drills SIGKILL it): a real
                    # server never sees a truncated request as a delivery.
                    self.close_connection = True
                    return
                key = self.headers.get("Idempotency-Key")
                with receiver.lock:
                    receiver.deliveries.append(
                        Delivery(
                            self.path,
                            key,
                            {
                                k: v
                                for k, v in self.headers.items()
                                if k.lower().startswith("webhook-")
                            },
                            body,
                            time.time(),
                        )
                    )
                    failing = receiver.fail_first.get(self.path, 0)
                    if failing:
                        receiver.fail_first[self.path] = failing - 1
                    delay = receiver.delay.get(self.path, 0.0)
                if delay:
                    time.sleep(delay)
                if not failing:
                    with receiver.lock:
                        # The effect of a key happens once however often it is delivered.
                        if key is not None and key not in receiver.effects:
                            receiver.effects[key] += 1
                try:
                    self.send_response(503 if failing else 200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender was SIGKILLed mid-request: that is the drill

            def log_message(self, *_: object) -> None:
                pass

        self.server = serve_http(Handler)
        return self

    def stop(self) -> None:
        stop_http(self.server)

    def for_key(self, key: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.key == key]

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(d.key for d in self.deliveries if d.key)
