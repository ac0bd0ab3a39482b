"""Choosing the previous known-good version."""

from __future__ import annotations

from datetime import timedelta

from defib.systems.state import (
    KnownGood,
    ModelVersion,
    NoKnownGood,
    VersionStatus,
    previous_known_good,
)

G, B, U = VersionStatus.GOOD, VersionStatus.BAD, VersionStatus.UNKNOWN


def versions(*marks: VersionStatus) -> list[ModelVersion]:
    return [ModelVersion("bot", f"v{i + 1}", i, status) for i, status in enumerate(marks)]


def test_newest_earlier_good_version_wins_and_bad_is_never_chosen() -> None:
    found = previous_known_good(versions(G, G, B, U), "v4")
    assert isinstance(found, KnownGood) and found.version.name == "v2"


def test_a_version_that_served_long_enough_without_incident_counts_as_good() -> None:
    vs = versions(G, U, U)
    found = previous_known_good(vs, "v3", incident_free={"v2": timedelta(days=2)})
    assert isinstance(found, KnownGood) and found.version.name == "v2"
    short = previous_known_good(vs, "v3", incident_free={"v2": timedelta(hours=1)})
    assert isinstance(short, KnownGood) and short.version.name == "v1"


def test_no_known_good_says_why() -> None:
    none = previous_known_good(versions(B, U), "v2")
    assert isinstance(none, NoKnownGood) and "v1 (bad)" in none.why
    oldest = previous_known_good(versions(G), "v1")
    assert isinstance(oldest, NoKnownGood) and "older" in oldest.why
    stranger = previous_known_good(versions(G), "v7")
    assert isinstance(stranger, NoKnownGood) and "not a known version" in stranger.why
