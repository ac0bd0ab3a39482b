"""Property tests: arbitrary JSON never escapes as anything but PayloadError."""

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from defib.intake.formats import FORMATS, PayloadError, parse_payload

NOW = datetime(2025, 6, 1, tzinfo=UTC)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)

KEYS = [
    "alerts",
    "labels",
    "annotations",
    "alertname",
    "status",
    "startsAt",
    "endsAt",
    "event_action",
    "payload",
    "summary",
    "source",
    "severity",
    "dedup_key",
    "title",
    "systems",
    "samples",
    "values",
    "value",
    "type",
    "timestamp",
    "occurred_at",
]
# Payloads built from the keys the adapters look for reach deeper than random dictionaries.
shaped = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "firing",
            "resolved",
            "trigger",
            "resolve",
            "critical",
            "bias",
            "1",
            "2025-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
    ),
    max_leaves=40,
)


def _only_payload_errors(payload: Any) -> None:
    fields: list[str] = []
    for fmt in (None, *FORMATS):
        try:
            parse_payload(payload, fmt, now=NOW)
        except PayloadError as e:
            fields.append(e.field)
    assert all(isinstance(f, str) for f in fields)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_raises_only_payload_error(payload: Any) -> None:
    """Any JSON value, under any format, parses or raises PayloadError, nothing else."""
    _only_payload_errors(payload)


@settings(max_examples=300, deadline=None)
@given(shaped)
def test_payload_shaped_json_raises_only_payload_error(payload: Any) -> None:
    _only_payload_errors(payload)


label_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12
)
am_alert = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": st.dictionaries(
            st.from_regex(r"[a-z_]{1,8}", fullmatch=True), label_values, max_size=5
        ).map(lambda d: {**d, "alertname": "A"}),
        "annotations": st.dictionaries(st.text(max_size=8), st.text(max_size=30), max_size=3),
        "startsAt": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        "endsAt": st.just("0001-01-01T00:00:00Z"),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(am_alert, max_size=6), st.text(max_size=10))
def test_valid_alertmanager_payloads_parse_to_right_count(
    alerts: list[dict[str, Any]], receiver: str
) -> None:
    """A valid Alertmanager webhook yields exactly one Alert per alert, in order."""
    payload = {"receiver": receiver, "status": "firing", "alerts": alerts, "version": "4"}
    parsed = parse_payload(payload)
    assert len(parsed) == len(alerts)
    assert [a.status for a in parsed] == [a["status"] for a in alerts]
