"""System state, model versions and captures in storage (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defib.store import systems as repo
from defib.store.database import Database
from defib.systems.state import (
    Capture,
    FilterKind,
    OutputFilter,
    StateError,
    SystemState,
    VersionStatus,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_state_round_trips_and_revision_grows(db: Database) -> None:
    """Saving a state bumps its revision; filters and the disabling incident survive a read."""
    with db.write() as conn:
        first = repo.ensure_state(conn, "bot", "v2", T0)
        assert (first.revision, first.active_version, first.disabled) == (1, "v2", False)
        again = repo.ensure_state(conn, "bot", "v9", T0)
        assert again.active_version == "v2"  # an existing state is kept
        flt = OutputFilter("r1:2", FilterKind.PATTERN, pattern=r"\d{3}-\d{2}", incident_seq=7)
        changed = first.disable(7, "leak").with_filters([flt])
        saved = repo.save_state(conn, changed, "run:r1", T0 + timedelta(seconds=1))
    assert saved.revision == 2
    with db.read() as conn:
        got = repo.get_state(conn, "bot")
        assert repo.revisions(conn) == {"bot": 2}
    assert got is not None
    assert got.disabled and got.disabled_by == 7 and got.filters == (flt,)
    assert got.updated_by == "run:r1"


def test_enable_only_releases_what_the_incident_disabled() -> None:
    """Another incident's verification cannot re-enable a system it did not disable."""
    state = SystemState("bot").disable(1, "first").disable(2, "second")
    assert state.disabled_by == 1
    assert state.enable(2).disabled
    assert not state.enable(1).disabled
    assert not state.enable(2, force=True).disabled


def test_bad_filters_are_refused_naming_the_field() -> None:
    with pytest.raises(StateError, match="pattern"):
        OutputFilter("x", FilterKind.PATTERN, pattern="(unclosed")
    with pytest.raises(StateError, match="detector"):
        OutputFilter("x", FilterKind.DETECTOR, detector="astrology")


def test_versions_keep_order_and_marks(db: Database) -> None:
    """Registering versions again keeps marks; new ones sort after the old."""
    with db.write() as conn:
        repo.ensure_versions(conn, "bot", ["v1", "v2"])
        marked = repo.mark_version(conn, "bot", "v1", VersionStatus.GOOD, "alice", "ok", T0)
        assert marked is not None and marked.status is VersionStatus.GOOD
        assert repo.mark_version(conn, "bot", "nope", VersionStatus.BAD, "a", "", T0) is None
        repo.ensure_versions(conn, "bot", ["v1", "v2", "v3"])
        repo.note_served(conn, "bot", "v3", T0)
        repo.note_served(conn, "bot", "v3", T0 + timedelta(hours=1))
    with db.read() as conn:
        versions = repo.list_versions(conn, "bot")
    assert [(v.name, v.ordinal, v.status) for v in versions] == [
        ("v1", 0, VersionStatus.GOOD),
        ("v2", 1, VersionStatus.UNKNOWN),
        ("v3", 2, VersionStatus.UNKNOWN),
    ]
    assert versions[2].first_served_at == T0
    assert versions[2].last_served_at == T0 + timedelta(hours=1)


def test_captures_window_and_prune(db: Database) -> None:
    def cap(minutes: int, system: str = "bot") -> Capture:
        return Capture(
            system=system,
            version="v2",
            at=T0 + timedelta(minutes=minutes),
            request_id=f"req-{system}-{minutes}",
            endpoint="chat.completions",
            prompt="hi",
            response="[EMAIL]",
            masked=True,
            status_code=200,
            latency_ms=12,
            user_id="u1",
            findings=({"detector": "pii", "entity": "EMAIL", "count": 1},),
        )

    with db.write() as conn:
        assert repo.insert_captures(conn, [cap(0), cap(5), cap(10), cap(5, "other")]) == 4
    with db.read() as conn:
        got = repo.captures_between(
            conn, ["bot"], T0 + timedelta(minutes=1), T0 + timedelta(minutes=10)
        )
    assert [c.request_id for c in got] == ["req-bot-5", "req-bot-10"]
    assert got[0].findings == ({"detector": "pii", "entity": "EMAIL", "count": 1},)
    with db.write() as conn:
        assert repo.prune_captures(conn, "bot", T0 + timedelta(minutes=6)) == 2
    with db.read() as conn:
        left = repo.captures_between(conn, ["bot", "other"], T0, T0 + timedelta(hours=1))
    assert [c.request_id for c in left] == ["req-other-5", "req-bot-10"]
