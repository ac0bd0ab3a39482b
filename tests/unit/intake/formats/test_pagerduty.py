import pytest

from defib.intake.formats import PayloadError, parse_payload
from defib.model import IncidentType
from tests.support.ingest.helpers import pd_event


def test_trigger_fills_alert() -> None:
    """A trigger event maps summary, source/component, severity and custom details."""
    (a,) = parse_payload(pd_event())
    assert a.format == "pagerduty"
    assert a.source == "Datadog"
    assert a.title == "p99 latency 14s on support-copilot"
    assert a.status == "firing"
    assert a.severity == "warning"
    assert a.systems == ("support-copilot", "gpt-4o-mini")
    assert a.identity == a.dedup_key == "dk-1"
    assert a.delivery_key == "dk-1"
    assert a.source_key == "dk-1"
    assert a.value == 14 and a.threshold == 6
    assert a.description.startswith("p99 latency 14s")
    assert "value: 14" in a.description
    assert a.labels["class"] == "latency"


def test_resolve_without_payload() -> None:
    """A resolve may come without payload and reads as resolved."""
    event = {"routing_key": "r", "event_action": "resolve", "dedup_key": "abc"}
    (a,) = parse_payload(event)
    assert a.status == "resolved"
    assert a.identity == "abc"
    assert a.systems == ()


def test_acknowledge_status() -> None:
    (a,) = parse_payload(pd_event("acknowledge"))
    assert a.status == "acknowledged"


def test_client_missing_defaults_source() -> None:
    event = pd_event()
    del event["client"]
    assert parse_payload(event)[0].source == "pagerduty"


def test_explicit_type_in_custom_details() -> None:
    event = pd_event(custom_details={"ai_incident_type": "bias"})
    assert parse_payload(event)[0].explicit_type is IncidentType.BIAS


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"event_action": "trigger", "dedup_key": "x"}, "payload"),
        ({"event_action": "resolve"}, "dedup_key"),
        ({"event_action": "explode", "payload": {}}, "event_action"),
        ({"event_action": 3}, "event_action"),
        (pd_event(severity="urgent"), "payload.severity"),
        (pd_event(summary=""), "payload.summary"),
        (pd_event(source=None), "payload.source"),
        (pd_event(timestamp="2025-13-45T00:00:00Z"), "payload.timestamp"),
        (pd_event(component=5), "payload.component"),
    ],
)
def test_bad_event_names_the_field(event: dict[str, object], field: str) -> None:
    """Missing summary/source/severity, bad actions and bad values name their field."""
    with pytest.raises(PayloadError) as exc:
        parse_payload(event, "pagerduty")
    assert exc.value.field == field


def test_severity_is_lowercased() -> None:
    assert parse_payload(pd_event(severity="CRITICAL"))[0].severity == "critical"
