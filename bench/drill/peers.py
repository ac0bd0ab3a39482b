"""The storm's peers on loopback, each recording every delivery with its key and time.

* `WebhookPeer` honours `Idempotency-Key` (each key's effect once) and fails the first
  deliveries of each key on `/flaky` paths, so retries with backoff run under the storm.
* `PagerDutyPeer` is the Events API v2: one alert per `dedup_key`, however many triggers.
* `SlackPeer` is an incoming webhook, which ignores keys: every POST is a posted message.
* `MailPeer` is a real SMTP server (aiosmtpd); mail servers take every message too.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from defib.testing import free_port, serve_http, stop_http


@dataclass(frozen=True, slots=True)
class Delivery:
    path: str
    key: str | None
    body: bytes
    at: float  # time.time() when it arrived whole
    status: int = 0  # what the peer answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpPeer:
    """Records each complete POST; `answer` decides the status (called under the lock)."""

    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, delivery: Delivery) -> tuple[int, bytes]:
        return 200, b"ok"

    def start(self) -> HttpPeer:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender was SIGKILLed mid-request: no server sees that as a delivery.
                    self.close_connection = True
                    return
                delivery = Delivery(
                    self.path, self.headers.get("Idempotency-Key"), body, time.time()
                )
                with peer.lock:
                    status, out = peer.answer(delivery)
                    peer.deliveries.append(replace(delivery, status=status))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender died waiting for the answer: that is the storm

            def log_message(self, *_: object) -> None:
                pass

        self.server = serve_http(Handler)
        return self

    def stop(self) -> None:
        stop_http(self.server)

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)


@dataclass
class WebhookPeer(HttpPeer):
    fail_first: int = 2  # failures per key on /flaky paths before it accepts
    effects: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    def answer(self, delivery: Delivery) -> tuple[int, bytes]:
        key = delivery.key or ""
        if delivery.path.startswith("/flaky") and self.failures[key] < self.fail_first:
            self.failures[key] += 1
            return 503, b'{"error":"try again"}'
        if key and key not in self.effects:
            self.effects[key] += 1
        return 200, b"{}"


@dataclass
class PagerDutyPeer(HttpPeer):
    alerts: Counter[str] = field(default_factory=Counter)  # dedup_key -> triggers folded

    def answer(self, delivery: Delivery) -> tuple[int, bytes]:
        event = delivery.json()
        self.alerts[str(event.get("dedup_key"))] += 1
        out = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
        return 202, json.dumps(out).encode()


@dataclass
class SlackPeer(HttpPeer):
    def answer(self, delivery: Delivery) -> tuple[int, bytes]:
        return 200, b"ok"


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str
    key: str | None
    to: tuple[str, ...]
    at: float


class MailPeer:
    """aiosmtpd on loopback: takes every message, like a mail server."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        peer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                msg = message_from_bytes(envelope.original_content or envelope.content)
                mail = Mail(
                    str(msg.get("Message-ID", "")),
                    msg.get("X-Defib-Idempotency-Key"),
                    tuple(envelope.rcpt_tos),
                    time.time(),
                )
                with peer.lock:
                    peer.mails.append(mail)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailPeer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def snapshot(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)
