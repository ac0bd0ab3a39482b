"""End to end with clients nobody here wrote: the official `openai` client instrumented by
`opentelemetry-instrumentation-openai-v2`, exporting with OpenTelemetry's OTLP/HTTP exporter
to a real `defib serve` process, opens incidents whose playbooks run."""

from __future__ import annotations

import pytest
from openai import OpenAI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from defib.auth import Role
from defib.gateway.server import ThreadedServer
from tests.support.signals.otel import capture_mode
from tests.support.signals.serve import Serve

pytestmark = pytest.mark.slow


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
    the span's ids in the preserved evidence, and the data_leak playbook runs its steps."""
    [span_id] = _traffic(serve, upstream, "support-bot", ["who is the customer on account 4?"])
    [incident] = serve.wait("/api/v1/incidents?system=support-bot", lambda b: b["items"])["items"]
    assert incident["type"] == "data_leak"
    assert incident["affected_systems"] == ["support-bot"]
    runs = serve.wait(
        f"/api/v1/incidents/{incident['id']}/runs",
        lambda b: any(
            s["name"] == "preserve_evidence" and s["status"] == "succeeded"
            for r in b["items"]
            for s in r["steps"]
        ),
    )
    [run] = runs["items"]
    assert run["playbook"] == "data_leak"
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["assess_data_impact"]["output"]["entities"]["US_SSN"] == 1
    # The same corroboration gate as the gateway's: one application's traffic alone does not
    # switch the system off; the step says why and a person (or a second source) decides.
    assert steps["disable_endpoint"]["status"] == "skipped"
    assert "not corroborated" in steps["disable_endpoint"]["output"]["reason"]
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
