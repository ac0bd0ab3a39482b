from datetime import UTC, datetime

import pytest

from defib.intake.formats import PayloadError, detect_format, parse_payload
from defib.model import IncidentType, Sample
from tests.support.ingest.helpers import native


def test_native_fills_alert() -> None:
    payload = native(
        samples=[{"prompt": "p", "response": "r", "user_id": "u1"}], type="availability"
    )
    assert detect_format(payload) == "native"
    (a,) = parse_payload(payload)
    assert a.format == "native"
    assert a.source == "synthetic-probes"
    assert a.systems == ("rag-answerer",)
    assert a.identity == "probe:1"
    assert a.delivery_key == "probe:1@2025-01-07T09:14:06Z"
    assert a.value == 0 and a.threshold == 1
    assert a.occurred_at == datetime(2025, 1, 7, 9, 14, 6, tzinfo=UTC)
    assert a.explicit_type is IncidentType.AVAILABILITY
    assert a.samples == (Sample(prompt="p", response="r", user_id="u1"),)


def test_identity_falls_back_to_normalised_title() -> None:
    (a,) = parse_payload(native(dedup_key=None, title="  Latency   HIGH "))
    assert a.identity == "latency high"
    assert a.delivery_key is None


@pytest.mark.parametrize(
    "word",
    ["critical", "high", "warning", "low", "info", "error", "minor", "none", "medium", "HIGH"],
)
def test_lenient_severity_words(word: str) -> None:
    """The canonical words and the lenient aliases are accepted (lowercased)."""
    assert parse_payload(native(severity=word))[0].severity == word.lower()


def test_status_defaults_to_firing() -> None:
    payload = native()
    del payload["status"]
    assert parse_payload(payload)[0].status == "firing"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"source": 1}, "source"),
        ({"severity": "sev0"}, "severity"),
        ({"status": "open"}, "status"),
        ({"systems": "rag"}, "systems"),
        ({"systems": ["a", 2]}, "systems[1]"),
        ({"value": "high"}, "value"),
        ({"value": True}, "value"),
        ({"type": "spam"}, "type"),
        ({"occurred_at": "2025-01-07"}, "occurred_at"),
        ({"labels": {"a": None}}, "labels.a"),
        ({"samples": [{"prompt": 1}]}, "samples[0].prompt"),
        ({"samples": ["x"]}, "samples[0]"),
    ],
)
def test_bad_native_alert_names_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_payload(native(**fields), "native")
    assert exc.value.field == field


def test_source_is_optional_and_defaults_to_native() -> None:
    """The smallest native alert (type, title, systems) is accepted."""
    from defib.intake.formats import parse_payload

    [a] = parse_payload({"type": "toxicity", "title": "t", "systems": ["chat-api"]})
    assert a.source == "native"
    assert a.format == "native"
