"""One timestamp format: RFC 3339, UTC, `Z`, whatever offset the datetime had."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from defib.timefmt import display, normalise, rfc3339, rfc3339_seconds


def test_an_offset_is_converted_to_utc_z() -> None:
    paris = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2026, 1, 2, 4, 5, 6, tzinfo=paris)) == "2026-01-02T03:05:06Z"


def test_fractions_are_kept_by_rfc3339_and_dropped_for_people() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)
    assert rfc3339(at) == "2026-01-02T03:04:05.120000Z"
    assert rfc3339_seconds(at) == "2026-01-02T03:04:05Z"


def test_display_normalises_the_api_and_legacy_shapes() -> None:
    """`+00:00`, a space, or `Z`: a table shows the same text for the same instant."""
    for text in ("2026-01-02T03:04:05+00:00", "2026-01-02 03:04:05", "2026-01-02T03:04:05.5Z"):
        assert display(text) == "2026-01-02T03:04:05Z"
    assert display("not a time") == "not a time"
    assert display(None) == ""


def test_normalise_rewrites_instants_inside_free_form_maps() -> None:
    """Event data written with isoformat() comes out in the one format; other text does not."""
    data = {
        "deadline": "2026-01-02T03:04:05+00:00",
        "window": {"start": "2026-01-02T04:04:05+01:00", "note": "at 2026-01-02"},
        "items": ["2026-01-02T03:04:05.25Z", 7, None],
        "version": "2026-01-02",
    }
    assert normalise(data) == {
        "deadline": "2026-01-02T03:04:05Z",
        "window": {"start": "2026-01-02T03:04:05Z", "note": "at 2026-01-02"},
        "items": ["2026-01-02T03:04:05.250000Z", 7, None],
        "version": "2026-01-02",
    }
