"""The floor under defib's intake: what one Python process on uvicorn answers with less work.

Two peers for `bench/intake/run.py` (`BENCH_SERVERS=...,floor-http,floor-classify`), served
by uvicorn exactly as `defib serve` is (same loop and HTTP implementation, no access log):

* `http`: POST /api/v2/alerts reads the body, decodes the JSON, counts the alerts and answers
  202. No validation, nothing kept: the ceiling of any design that answers from Python on
  uvicorn, whatever it does behind the answer.
* `classify`: the same, plus defib's own parsing and classification of every alert (the
  packaged rules, as `defib serve` loads them). Nothing is deduplicated or stored, so the
  gap between this row and defib's is what storing durably before the answer costs.

Neither is a product: they answer 202 for alerts nobody keeps. GET /-/ready answers 200 and
GET /metrics `floor_alerts N` (alerts received), which the bench reads as "stored".
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Floor:
    """A raw ASGI app: one route that takes alerts, two for the bench to read."""

    def __init__(self, classify: bool) -> None:
        self.alerts = 0
        self.decide: Callable[[object], int] = _count
        if classify:
            self.decide = _classifier()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/api/v2/alerts":
            body = await _body(receive)
            try:
                self.alerts += self.decide(orjson.loads(body))
            except Exception as exc:  # the bench must see a failure (400), not a hang
                await _answer(send, 400, orjson.dumps({"error": str(exc)}))
                return
            await _answer(send, 202, b'{"status":"accepted"}')
        elif path == "/-/ready":
            await _answer(send, 200, b"ready")
        elif path == "/metrics":
            await _answer(send, 200, f"floor_alerts {self.alerts}\n".encode())
        else:
            await _answer(send, 404, b"{}")


def _count(payload: object) -> int:
    return len(payload) if isinstance(payload, list) else 1


def _classifier() -> Callable[[object], int]:
    from defib.classify import Classifier
    from defib.intake.formats import parse_payload

    classifier = Classifier()

    def decide(payload: object) -> int:
        alerts = parse_payload(payload)
        for alert in alerts:
            classifier.decide(alert)
        return len(alerts)

    return decide


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("http", "classify"), default="http")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    app = Floor(classify=args.mode == "classify")
    # As `defib serve` runs uvicorn (cli/serve.py): defaults otherwise.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
