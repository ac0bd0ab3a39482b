"""On-call series from timeline events: pages, escalations, time to acknowledge. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from defib.telemetry.oncall import series

T0 = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


def page(
    seq: int, minutes: float, level: int, channel: str = "webhook"
) -> tuple[int, datetime, str, dict[str, object]]:
    data = {"policy": "p", "level": level, "repeat": 0, "channel": channel}
    return (seq, T0 + timedelta(minutes=minutes), "page_sent", data)


def test_time_to_acknowledge_is_filed_under_the_highest_level_paged_before_it() -> None:
    """Paged at level 1, then level 2 after 10 min, acknowledged at 12 min: 720 s at level 2;
    a page after the acknowledgement does not count; an unacknowledged incident is not timed."""
    events = [
        page(1, 0, 1),
        page(1, 0, 1, "email"),
        (1, T0 + timedelta(minutes=10), "escalated", {"policy": "p", "level": 2}),
        page(1, 10, 2),
        page(1, 30, 1),  # a later repeat that raced the acknowledgement
        page(2, 0, 1),
    ]
    got = series(events, {1: T0 + timedelta(minutes=12)})
    assert got.pages == {("p", "1", "webhook"): 3, ("p", "1", "email"): 1, ("p", "2", "webhook"): 1}
    assert got.escalations == {("p", "2"): 1}
    ((key, h),) = got.to_ack.items()
    assert key == ("p", "2") and h.count == 1 and h.total == 720.0


def test_an_acknowledgement_before_any_page_is_not_timed() -> None:
    """Acknowledged before the first page went out: nothing to measure."""
    got = series([page(1, 5, 1)], {1: T0})
    assert got.to_ack == {}
