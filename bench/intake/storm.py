#!/usr/bin/env python3
"""Alert storm sender: N alerts over F fingerprints, posted as fast as the sender can.

Stdlib only (asyncio, raw HTTP/1.1 keep-alive): every body is built before the clock
starts, then C connections each post the next unsent body and wait for its answer, until
all are sent. The alerts are those of alerts.lua (an LLM latency alert, same labels and
annotations), with `service` = svc-(i mod F), so F fingerprints (F incidents in defib), and
a `seq` label unique per alert (each a new alert, never a re-delivery).

Usage: storm.py URL TOKEN [--alerts 100000] [--fingerprints 50] [--batch 50] [--conns 32]
Prints one JSON line: alerts, requests, 2xx, non-2xx, seconds (first send to last answer),
alerts/s, p50/p99 request latency in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


def alert(service: str, seq: str, starts_at: str, ends_at: str) -> dict[str, object]:
    return {
        "labels": {
            "alertname": "LLMHighLatencyP99",
            "severity": "warning",
            "service": service,
            "model": "gpt-4o-mini",
            "env": "prod",
            "seq": seq,
        },
        "annotations": {
            "summary": f"p99 latency of {service} above 2s",
            "description": "LLM inference p99 latency is 3.4s (threshold 2s) for model "
            f"gpt-4o-mini on {service}; responses are slow for users",
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.local:9090/graph?g0.expr=histogram_quantile"
        "%280.99%2C+rate%28llm_request_duration_seconds_bucket%5B5m%5D%29%29+%3E+2",
    }


def bodies(n: int, fingerprints: int, batch: int, nonce: str) -> list[bytes]:
    now = time.time()
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))
    items = [alert(f"svc-{i % fingerprints}", f"{nonce}-{i}", starts, ends) for i in range(n)]
    return [
        json.dumps(items[k : k + batch], separators=(",", ":")).encode() for k in range(0, n, batch)
    ]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str, port: int, path: str, token: str, queue: list[bytes], stats: dict[str, list[float]]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            body = queue.pop()
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            t0 = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            stats["latency"].append(time.perf_counter() - t0)
            stats["ok" if 200 <= status < 300 else "bad"].append(status)
    finally:
        writer.close()


async def storm(url: str, token: str, payloads: list[bytes], conns: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue = list(reversed(payloads))
    stats: dict[str, list[float]] = {"latency": [], "ok": [], "bad": []}
    t0 = time.perf_counter()
    await asyncio.gather(
        *(_connection(host, port, "/api/v2/alerts", token, queue, stats) for _ in range(conns))
    )
    seconds = time.perf_counter() - t0
    lat = sorted(stats["latency"])
    return {
        "requests": len(lat),
        "ok2xx": len(stats["ok"]),
        "non2xx": len(stats["bad"]),
        "seconds": round(seconds, 3),
        "p50_ms": round(1000 * lat[len(lat) // 2], 1) if lat else None,
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--fingerprints", type=int, default=50)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--nonce", default=str(int(time.time())))
    args = ap.parse_args()
    payloads = bodies(args.alerts, args.fingerprints, args.batch, args.nonce)
    result = asyncio.run(storm(args.url, args.token, payloads, args.conns))
    result["alerts"] = args.alerts
    result["alerts_per_s"] = round(args.alerts / float(result["seconds"]), 1)  # type: ignore[arg-type]
    print(json.dumps(result))
    return 0 if result["non2xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
