"""The console's pure helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defib.model import Command, Incident, IncidentType, InvalidInput, Severity, Status
from defib.web.views import (
    ListCursor,
    alert_title,
    describe_event,
    durations,
    human_duration,
    legal_commands,
    split_statuses,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h 00m"), (49 * 3600, "2d 1h")],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_only_legal_buttons() -> None:
    assert [c for c, _ in legal_commands(Status.DETECTED)] == [
        Command.ACKNOWLEDGE,
        Command.MITIGATE,
        Command.RESOLVE,
        Command.CLOSE,
    ]
    assert [label for _, label in legal_commands(Status.RESOLVED)] == ["Close", "Reopen"]
    assert legal_commands(Status.CLOSED) == []


def test_cursor_round_trip_and_garbage() -> None:
    for c in (ListCursor("open", "czo1"), ListCursor("rest", None)):
        assert ListCursor.decode(c.encode()) == c
    assert ListCursor.decode(None) == ListCursor("open", None)
    with pytest.raises(InvalidInput):
        ListCursor.decode("bm9wZTox")  # "nope:1"


def test_split_statuses() -> None:
    open_, rest = split_statuses([])
    assert open_ == [Status.DETECTED, Status.ACKNOWLEDGED, Status.MITIGATED]
    assert rest == [Status.RESOLVED, Status.CLOSED]
    assert split_statuses([Status.CLOSED]) == ([], [Status.CLOSED])


def test_alert_titles_from_each_shape() -> None:
    assert alert_title({"title": "Toxic"}) == "Toxic"
    assert alert_title({"labels": {"alertname": "HighLatency"}}) == "HighLatency"
    assert alert_title({"payload": {"summary": "PD says"}}) == "PD says"
    assert alert_title({}) == "(untitled)"


def test_durations_so_far() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    incident = Incident(
        seq=1,
        type=IncidentType.BIAS,
        severity=Severity.SEV3,
        title="t",
        status=Status.ACKNOWLEDGED,
        detected_at=t0,
        acknowledged_at=t0 + timedelta(minutes=4),
    )
    d = durations(incident, t0 + timedelta(hours=2))
    assert (d.open_for, d.to_acknowledge, d.to_mitigate) == ("2h 00m", "4m", None)


def test_describe_event() -> None:
    assert describe_event("transition", {"from": "detected", "to": "acknowledged"}) == (
        "detected → acknowledged"
    )
    assert describe_event("note", {"text": "on it"}) == "on it"
    assert "step: notify" in describe_event("run_step_started", {"step": "notify", "run_id": "r"})
