"""POST /v1/traces: a span's output goes through every detector the gateway runs (toxicity,
grounding against the retrieval context the span carries), and a service nobody configured
opens incidents that reach `default_owners` (issue 29)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import orjson

from defib.actions.base import ActionContext
from defib.actions.notify import NotifyAction
from defib.model import IncidentType
from tests.support.signals import Api
from tests.unit.signals.test_receiver_usage import JSON, genai_export

ASK = orjson.dumps(
    [{"role": "user", "parts": [{"type": "text", "content": "Can I get a refund?"}]}]
)


def _output(text: str) -> str:
    return orjson.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": text}],
                "finish_reason": "stop",
            }
        ]
    ).decode()


def _post(api: Api, service: str, attrs: dict[str, Any]) -> None:
    span = {"gen_ai.input.messages": ASK.decode(), **attrs}
    answer = api.client.post("/v1/traces", content=genai_export(service, [span]), headers=JSON)
    assert answer.status_code == 200, answer.text


def test_a_toxic_answer_on_a_span_opens_a_toxicity_incident(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(systems=[{"name": "support-bot"}])
    _post(
        api,
        "support-bot",
        {"gen_ai.output.messages": _output("Honestly, you are a worthless moron.")},
    )
    [incident] = api.incidents(system="support-bot")
    assert incident.type is IncidentType.TOXICITY
    [alert] = api.alert_payloads()
    assert alert["signal"] == "otlp.toxicity"
    assert alert["labels"]["span_ids"] == f"{1:016x}"


def test_grounding_checks_the_answer_against_the_spans_retrieval_context(
    start_api: Callable[..., Api],
) -> None:
    """The documents the application retrieved ride on the span; an answer that contradicts
    them opens a hallucination incident, and the same answer without context does not."""
    api = start_api(systems=[{"name": "support-bot", "gateway": {"detect": ["grounding"]}}])
    wrong = _output("Refunds are accepted within 90 days.")
    _post(api, "support-bot", {"gen_ai.output.messages": wrong})
    assert api.incidents(system="support-bot", timeout=1.0) == []
    docs = orjson.dumps([{"id": "kb-7", "content": "Refunds are accepted within 30 days."}])
    _post(
        api,
        "support-bot",
        {"gen_ai.output.messages": wrong, "gen_ai.retrieval.documents": docs.decode()},
    )
    [incident] = api.incidents(system="support-bot")
    assert incident.type is IncidentType.HALLUCINATION
    [alert] = api.alert_payloads()
    assert "30 days" in alert["samples"][0]["context"]


def test_an_unknown_service_opens_an_incident_that_reaches_default_owners(
    start_api: Callable[..., Api],
) -> None:
    """`service.name` names no configured system: the incident is on that name, and the
    notify step's plan sends it to `default_owners` (nobody else covers it)."""
    api = start_api(
        systems=[{"name": "support-bot"}],
        default_owners={"webhooks": [{"url": "http://127.0.0.1:9/default"}]},
    )
    leak = _output("The customer is Jane Doe, SSN 123-45-6789, jane.doe@example.com.")
    _post(api, "mystery-service", {"gen_ai.output.messages": leak})
    [incident] = api.incidents(system="mystery-service")
    assert incident.type is IncidentType.DATA_LEAK
    assert incident.affected_systems == ("mystery-service",)
    ctx = SimpleNamespace(
        params={},
        incident={
            "id": incident.id,
            "type": incident.type.value,
            "severity": incident.severity.value,
            "status": incident.status.value,
            "title": incident.title,
            "systems": list(incident.affected_systems),
        },
        env=SimpleNamespace(secrets={}),
    )
    plan = NotifyAction("notify_team", security=False).plan(
        cast(ActionContext, ctx), api.runtime.settings, None
    )
    assert plan.unknown_systems == ["mystery-service"]
    assert plan.defaulted
    assert [t.label for t in plan.targets] == ["webhook (default)"]
