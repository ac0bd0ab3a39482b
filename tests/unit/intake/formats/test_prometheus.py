from datetime import UTC, datetime

import pytest

from defib.intake.formats import PayloadError, detect_format, parse_payload

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _alert(ends: str | None = None, **labels: str) -> dict[str, object]:
    a: dict[str, object] = {
        "labels": {"alertname": "ModelDown", "service": "chat", "job": "vllm", **labels},
        "annotations": {"description": "endpoint down"},
        "startsAt": "2025-06-01T00:00:00Z",
        "generatorURL": "http://prom/graph?g0.expr=up%20%3D%3D%200",
    }
    if ends is not None:
        a["endsAt"] = ends
    return a


def test_array_is_prometheus_and_parses_each_alert() -> None:
    body = [_alert(), _alert(service="embed")]
    assert detect_format(body) == "prometheus"
    alerts = parse_payload(body, now=NOW)
    assert [a.systems for a in alerts] == [("chat", "vllm"), ("embed", "vllm")]
    assert all(a.format == "prometheus" and a.status == "firing" for a in alerts)
    assert alerts[0].signal == "up == 0"


def test_ends_at_in_the_past_is_resolved() -> None:
    """endsAt before `now` means resolved; after `now` still firing."""
    past, future = _alert(ends="2025-05-31T23:00:00Z"), _alert(ends="2025-06-01T01:00:00Z")
    a, b = parse_payload([past, future], now=NOW)
    assert a.status == "resolved"
    assert b.status == "firing"


def test_delivery_key_is_label_hash_and_start() -> None:
    """Same labels and start → same delivery key, whatever the label order."""
    x = _alert()
    y = _alert()
    y["labels"] = dict(reversed(list(y["labels"].items())))  # type: ignore[union-attr]
    a, b = parse_payload([x, y], now=NOW)
    assert a.delivery_key == b.delivery_key


def test_empty_array_is_no_alerts() -> None:
    assert parse_payload([], now=NOW) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"annotations": {}}], "[0].labels"),
        ([_alert(), {"labels": {"service": "x"}}], "[1].labels.alertname"),
        ([_alert(), 3], "[1]"),
        ([_alert(ends="soon")], "[0].endsAt"),
    ],
)
def test_bad_alert_names_index_and_field(body: list[object], field: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_payload(body, now=NOW)
    assert exc.value.field == field
