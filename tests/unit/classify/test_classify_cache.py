"""The classifier's decision cache: keyed by exactly what classification reads."""

from __future__ import annotations

import dataclasses

from defib.classify import Classifier
from defib.model import Alert, IncidentType


def _alert(**kw: object) -> Alert:
    base = Alert(
        source="prometheus",
        title="LLMHighLatencyP99",
        description="p99 latency is 3.4s (threshold 2s)",
        format="prometheus",
        severity="warning",
        labels={"alertname": "LLMHighLatencyP99", "service": "chat-api"},
        delivery_key="a",
        source_key="s1",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_a_redelivered_alert_reuses_the_decision_of_its_twin() -> None:
    c = Classifier()
    first = c.decide(_alert())
    again = c.decide(_alert(delivery_key="b", source_key="s2", raw={"x": 1}))
    assert again is first
    assert first.type is IncidentType.PERFORMANCE


def test_any_field_classification_reads_gives_a_fresh_decision() -> None:
    c = Classifier()
    cached = c.decide(_alert())
    leak = _alert(title="PII detected in model output", labels={"alertname": "PIILeak"})
    assert c.decide(leak) == Classifier().decide(leak)
    assert c.decide(leak).type is not cached.type
    resolved = c.decide(_alert(status="resolved"))
    assert resolved.type is None
    other_system = c.decide(_alert(systems=("search-api",)))
    assert other_system.fingerprint != cached.fingerprint
    assert other_system.systems == ("search-api",)
