import pytest

from defib.intake.formats import PayloadError, detect_format, parse_payload
from tests.support.ingest.helpers import am_alert, grafana_payload


def test_grafana_alert_reads_value_and_zero_end() -> None:
    """A firing Grafana alert takes its first query value; Go's zero endsAt means no end."""
    p = grafana_payload(am_alert(model="m1"))
    assert detect_format(p) == "grafana"
    (a,) = parse_payload(p)
    assert a.format == "grafana"
    assert a.source == "grafana:defib-webhook"
    assert a.value == 0.62
    assert a.status == "firing"
    assert a.systems == ("chat", "m1")


def test_state_ok_resolves_alerts_without_status() -> None:
    """Grafana state ok marks alerts that carry no status of their own as resolved."""
    alert = am_alert()
    del alert["status"]
    p = grafana_payload(alert, state="ok")
    del p["status"]
    (a,) = parse_payload(p)
    assert a.status == "resolved"


def test_grafana_values_must_be_object() -> None:
    p = grafana_payload(am_alert())
    p["alerts"][0]["values"] = [1]
    with pytest.raises(PayloadError) as exc:
        parse_payload(p)
    assert exc.value.field == "alerts[0].values"


def test_grafana_message_is_description_fallback_for_single_alert() -> None:
    """With no description annotations, a one-alert group uses the group message."""
    alert = am_alert()
    alert["annotations"] = {}
    p = grafana_payload(alert)
    p["message"] = "Self-harm content found"
    (a,) = parse_payload(p)
    assert a.description == "Self-harm content found"
