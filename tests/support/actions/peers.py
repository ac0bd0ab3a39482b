"""Real peers on loopback: an HTTP receiver with scripted answers, and an aiosmtpd server."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from defib.testing import free_port, serve_http, stop_http


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


# (status, extra headers, body) a peer answers one POST with.
Reply = tuple[int, dict[str, str], bytes]


@dataclass
class _RecordingPeer:
    """A loopback HTTP server that records every POST, then lets `respond` answer it."""

    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, request: Request) -> Reply:  # called with `lock` held
        raise NotImplementedError

    def start(self) -> Any:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with peer.lock:
                    peer.requests.append(request)
                    status, headers, out = peer.respond(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender went away (a crash drill): nothing to answer

            def log_message(self, *_: object) -> None:
                pass

        self.server = serve_http(Handler)
        return self

    def stop(self) -> None:
        stop_http(self.server)

    def at(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@dataclass
class HttpPeer(_RecordingPeer):
    """Records every request; answers from `script[path]` (a list of statuses), else `default`.

    Like a well-behaved receiver it applies each Idempotency-Key's effect once.
    """

    default: int = 200
    script: dict[str, list[int]] = field(default_factory=dict)
    effects: Counter[str] = field(default_factory=Counter)
    retry_after: str = "0"  # what a 429 says: seconds or an HTTP date

    @property
    def url(self) -> str:
        return self.base_url

    def start(self) -> HttpPeer:
        super().start()
        return self

    def respond(self, request: Request) -> Reply:
        queue = self.script.get(request.path)
        code = queue.pop(0) if queue else self.default
        if code < 300 and request.key is not None and request.key not in self.effects:
            self.effects[request.key] += 1
        return code, ({"Retry-After": self.retry_after} if code == 429 else {}), b""


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


class MailPeer:
    """A real SMTP server (aiosmtpd) on loopback, STARTTLS-capable when given a cert."""

    def __init__(self, cert: tuple[Path, Path] | None = None, *, require_tls: bool = False):
        from aiosmtpd.controller import Controller

        self.mails: list[Mail] = []
        self.tls_seen: list[bool] = []
        self.fail_codes: list[str] = []  # answers to DATA before accepting
        peer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if peer.fail_codes:
                    return peer.fail_codes.pop(0)
                peer.tls_seen.append(session.ssl is not None)
                peer.mails.append(
                    Mail(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        message_from_bytes(envelope.original_content or envelope.content),
                    )
                )
                return "250 OK"

        kwargs: dict[str, Any] = {}
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            kwargs.update(tls_context=context, require_starttls=require_tls)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> MailPeer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (openssl CLI)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class ChatPeer(_RecordingPeer):
    """A tiny OpenAI-compatible chat completions server: answers `answer` (or per-model
    `answers`) to POST .../chat/completions, with `status` as the HTTP status."""

    answer: str = "Paris is the capital of France."
    answers: dict[str, str] = field(default_factory=dict)
    status: int = 200

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    def start(self) -> ChatPeer:
        super().start()
        return self

    def respond(self, request: Request) -> Reply:
        status = self.status if request.path.endswith("/chat/completions") else 404
        model = request.json().get("model", "") if status == 200 else ""
        content = self.answers.get(model, self.answer)
        out = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        ).encode()
        return status, {"Content-Type": "application/json"}, out
