import pytest

from defib.intake.formats import FORMATS, PayloadError, detect_format, parse_payload
from tests.support.ingest.helpers import (
    DEV_SET,
    am_payload,
    dataset,
    grafana_payload,
    native,
    pd_event,
)


@pytest.mark.parametrize(
    ("payload", "fmt"),
    [
        (am_payload(), "alertmanager"),
        (grafana_payload(), "grafana"),
        (pd_event(), "pagerduty"),
        ({"event_action": "resolve", "dedup_key": "x"}, "pagerduty"),
        ([], "prometheus"),
        (native(), "native"),
    ],
)
def test_detects_each_format(payload: object, fmt: str) -> None:
    assert detect_format(payload) == fmt


@pytest.mark.parametrize("payload", [{}, {"foo": 1}, "text", 3, None, {"title": "x"}])
def test_unrecognised_payload_raises(payload: object) -> None:
    with pytest.raises(PayloadError):
        detect_format(payload)


def test_unknown_format_name_raises() -> None:
    with pytest.raises(PayloadError) as exc:
        parse_payload(native(), "splunk")
    assert exc.value.field == "format"


def test_formats_constant() -> None:
    assert FORMATS == ("alertmanager", "grafana", "pagerduty", "prometheus", "native")


@pytest.mark.skipif(not DEV_SET.exists(), reason="dev set not mounted")
def test_dev_set_parses_with_expected_alert_counts() -> None:
    """Every dev payload auto-detects and yields one alert per expected entry."""
    for row in dataset(DEV_SET):
        assert len(parse_payload(row["payload"])) == len(row["expected"]), row["id"]
