"""End to end with clients nobody here wrote: the official `openai` client instrumented by
`opentelemetry-instrumentation-openai-v2`, exporting with OpenTelemetry's OTLP/HTTP exporter
to a real `defib serve` process, opens incidents whose playbooks run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openai import OpenAI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.config import load_settings
from defib.gateway.server import ThreadedServer
from defib.service import utcnow
from defib.store import tokens as token_repo
from defib.testing import free_port
from tests.engine.conftest import FAST_ENV
from tests.signals.otel import capture_mode

pytestmark = pytest.mark.slow
DEFIB = str(Path(sys.executable).with_name("defib"))


class Serve:
    """`defib serve` in a subprocess, with an ingest and an admin token."""

    def __init__(self, tmp: Path, systems: list[dict[str, Any]]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp / "defib.yaml"
        config.write_text(
            yaml.safe_dump({"data_dir": str(tmp / "data"), "systems": systems}), encoding="utf-8"
        )
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
            [DEFIB, "serve", "--port", str(self.port), "--no-gateway"],
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


@pytest.fixture
def serve(tmp_path: Path, upstream: ThreadedServer) -> Iterator[Serve]:
    versions = [
        {"name": "v1", "upstream": f"{upstream.url}/v1", "model": "demo-v1"},
        {"name": "v2", "upstream": f"{upstream.url}/v1", "model": "demo-v2"},
    ]
    server = Serve(
        tmp_path,
        [
            {"name": "support-bot", "versions": versions},
            {
                "name": "slow-bot",
                "versions": versions,
                "gateway": {"slo": {"latency_threshold_ms": 300}},
            },
        ],
    )
    yield server
    server.stop()


def _traffic(serve: Serve, upstream: ThreadedServer, service: str, prompts: list[str]) -> list[str]:
    """The application: the official client, instrumented, exporting over OTLP/HTTP; the
    span ids it exported (hex)."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    kept = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    exporter = OTLPSpanExporter(
        endpoint=f"{serve.url}/v1/traces",
        headers={"Authorization": f"Bearer {serve.tokens[Role.INGEST]}"},
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    client = OpenAI(base_url=f"{upstream.url}/v1", api_key="unused", max_retries=0, timeout=30)
    instrumentor = OpenAIInstrumentor()
    with capture_mode("span_only"):
        instrumentor.instrument(tracer_provider=provider)
        try:
            for prompt in prompts:
                client.chat.completions.create(
                    model="demo-v2", messages=[{"role": "user", "content": prompt}]
                )
        finally:
            instrumentor.uninstrument()
    assert provider.force_flush(30_000)
    provider.shutdown()
    return [f"{span.context.span_id:016x}" for span in kept.get_finished_spans()]


def test_a_leaking_model_behind_an_instrumented_client_opens_a_data_leak_incident(
    serve: Serve, upstream: ThreadedServer
) -> None:
    """A leak in the exported span opens a data_leak incident on the service's system, with
    the span's ids on its alert, and the data_leak playbook runs its steps."""
    [span_id] = _traffic(serve, upstream, "support-bot", ["who is the customer on account 4?"])
    [incident] = serve.wait("/api/v1/incidents?system=support-bot", lambda b: b["items"])["items"]
    assert incident["type"] == "data_leak"
    assert incident["affected_systems"] == ["support-bot"]
    runs = serve.wait(
        f"/api/v1/incidents/{incident['id']}/runs",
        lambda b: any(s["status"] == "succeeded" for r in b["items"] for s in r.get("steps") or []),
    )
    [run] = runs["items"]
    assert run["playbook"] == "data_leak"
    # Contained: the finding was on output the prompt did not hold (the corroboration gate).
    assert run["steps"][0]["output"]["corroboration"]["corroborated"] is True
    [alert] = serve.api.get(f"/api/v1/incidents/{incident['id']}/alerts").json()["items"]
    assert alert["key"] == "defib-otlp:support-bot:data_leak"
    # The span's ids reach the preserved evidence with the alert.
    evidence = serve.wait(
        f"/api/v1/incidents/{incident['id']}/evidence",
        lambda b: any(e["kind"] == "alert" for e in b["items"]),
    )
    n = next(e["n"] for e in evidence["items"] if e["kind"] == "alert")
    assert span_id in serve.api.get(f"/api/v1/incidents/{incident['id']}/evidence/{n}").text


def test_a_slow_model_opens_a_performance_incident_from_span_durations(
    serve: Serve, upstream: ThreadedServer
) -> None:
    """Answers slower than the system's latency threshold trip its SLO: a performance incident."""
    _traffic(serve, upstream, "slow-bot", ["[sleep=0.5] hello"] * 4)
    [incident] = serve.wait("/api/v1/incidents?system=slow-bot", lambda b: b["items"])["items"]
    assert incident["type"] == "performance"
    assert serve.api.get("/api/v1/incidents?system=support-bot").json()["items"] == []
