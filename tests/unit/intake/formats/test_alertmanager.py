from datetime import UTC, datetime

import pytest

from defib.intake.formats import PayloadError, parse_payload
from defib.intake.formats.alertmanager import parse
from defib.model import IncidentType
from tests.support.ingest.helpers import am_alert, am_payload


def test_fills_alert_fields_from_labels_and_annotations() -> None:
    """Every Alert field is filled from the webhook alert and its group."""
    (a,) = parse(am_payload(am_alert(model="gpt-4o", pod="x-1", namespace="ns")))
    assert a.format == "alertmanager"
    assert a.source == "alertmanager:defib-webhook"
    assert a.title == a.identity == "HighLatency"
    assert a.description == "p99 above SLO"
    assert a.status == "firing"
    assert a.severity == "warning"
    assert a.systems == ("chat", "gpt-4o")
    assert a.labels["pod"] == "x-1"
    assert a.annotations["summary"] == "p99 latency 4s"
    assert a.delivery_key == "20260635da276b2d@2025-01-08T04:28:31.119000Z"
    assert a.occurred_at == datetime(2025, 1, 8, 4, 28, 31, 119000, tzinfo=UTC)
    assert a.signal == "latency_p99 > 2"
    assert a.threshold == 2.0
    assert a.raw["receiver"] == "defib-webhook"


def test_namespace_pod_cluster_are_not_systems() -> None:
    """Infrastructure coordinates never count as affected systems."""
    alert = am_alert(namespace="ns", pod="p", cluster="c", node="n", instance="i")
    del alert["labels"]["service"]
    (a,) = parse(am_payload(alert))
    assert a.systems == ()


def test_missing_fingerprint_gets_stable_label_hash() -> None:
    """Without a fingerprint the delivery key hashes the sorted labels, stably."""
    x, y = am_alert(), am_alert()
    del x["fingerprint"], y["fingerprint"]
    y["labels"] = dict(reversed(list(y["labels"].items())))
    (a,) = parse(am_payload(x))
    (b,) = parse(am_payload(y))
    assert a.delivery_key == b.delivery_key
    assert a.delivery_key is not None and a.delivery_key.endswith("@2025-01-08T04:28:31.119000Z")


def test_resolved_alert_status() -> None:
    alert = am_alert()
    alert["status"] = "resolved"
    (a,) = parse(am_payload(alert))
    assert a.status == "resolved"
    assert not a.firing


def test_explicit_type_label() -> None:
    """A label ai_incident_type sets the explicit type."""
    (a,) = parse(am_payload(am_alert(ai_incident_type="data_leak")))
    assert a.explicit_type is IncidentType.DATA_LEAK


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["alerts"][1]["labels"].pop("alertname"), "alerts[1].labels.alertname"),
        (lambda p: p["alerts"][1].pop("labels"), "alerts[1].labels"),
        (lambda p: p["alerts"][0]["labels"].update(service=["a"]), "alerts[0].labels.service"),
        (lambda p: p["alerts"][1].update(startsAt="yesterday"), "alerts[1].startsAt"),
        (lambda p: p["alerts"][0].update(status="firin"), "alerts[0].status"),
        (lambda p: p.update(alerts={}), "alerts"),
        (lambda p: p.pop("alerts"), "alerts"),
        (
            lambda p: p["alerts"][1]["labels"].update(ai_incident_type="spam"),
            "alerts[1].labels.ai_incident_type",
        ),
    ],
)
def test_bad_payload_names_the_field(mutate: object, field: str) -> None:
    """Wrong types, missing fields, bad enums and timestamps raise PayloadError naming the path."""
    p = am_payload(am_alert(), am_alert(service="b"))
    mutate(p)  # type: ignore[operator]
    with pytest.raises(PayloadError) as exc:
        parse_payload(p, "alertmanager")
    assert exc.value.field == field
    assert field in str(exc.value)


def test_multi_alert_payload_is_all_or_nothing() -> None:
    """One bad alert rejects the whole payload; nothing is returned for the good ones."""
    p = am_payload(am_alert(), am_alert(service="b"), am_alert(service="c"))
    p["alerts"][2]["endsAt"] = 12
    with pytest.raises(PayloadError, match=r"alerts\[2\]\.endsAt"):
        parse_payload(p)


def test_unknown_extra_fields_are_allowed() -> None:
    p = am_payload(am_alert())
    p["somethingNew"] = {"x": 1}
    p["alerts"][0]["extra"] = [1, 2]
    assert len(parse_payload(p)) == 1


def test_common_labels_fill_in_but_do_not_override() -> None:
    """commonLabels supply labels an alert lacks; the alert's own value wins."""
    p = am_payload(am_alert())
    p["commonLabels"] = {"service": "other", "team": "ml"}
    (a,) = parse(p)
    assert a.labels["service"] == "chat"
    assert a.labels["team"] == "ml"
