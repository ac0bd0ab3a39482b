"""Which silences a responder may set: breadth decided on every value, not the empty one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from defib.silences import parse_matchers
from defib.silences.scope import judge, random_names, restricted_labels

NOW = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def _needs_admin(*texts: str, hours: float = 2, known: tuple[str, ...] = ()) -> bool:
    scope = judge(
        parse_matchers(texts),
        NOW,
        NOW + timedelta(hours=hours),
        max_duration=WEEK,
        probes=random_names(),
        known_systems=known,
    )
    return scope.needs_admin


@pytest.mark.parametrize(
    "matchers",
    [
        ['type=~".+"'],  # the review's reproduction: every alert
        ['system=~".+"'],
        ['system=~".*x|.+"'],
        ['system=~"[a-z0-9-]+"', "type=data_leak"],  # every system's data leaks
        ['system!="chat-api"', "type=toxicity"],
        ['system!~"x"', 'severity=~"SEV1|SEV2"'],
        ["type=data_leak"],  # every alert of a type
        ['type=~"data_leak|toxicity"', 'severity=~"SEV.*"'],
        ["system=chat-api"],  # every alert of a system
        ["system=chat-api", 'type=~".*"'],
        ["system=chat-api", 'severity=~"SEV1|SEV2|SEV3|SEV4"'],
        [
            "system=chat-api",
            'type=~"hallucination|toxicity|data_leak|performance|availability|bias"',
        ],
        ['system=~"(?i:CHAT-API)|.{1,40}"', "type=bias"],
        ["team=ml"],  # no system named: spans them all
        ["severity=SEV1"],
    ],
)
def test_broad_silences_need_an_admin(matchers: list[str]) -> None:
    """Matching every value of type, system or severity counts as not narrowing it."""
    assert _needs_admin(*matchers)


@pytest.mark.parametrize(
    "matchers",
    [
        ["system=chat-api", "type=performance"],
        ["system=chat-api", 'severity=~"SEV3|SEV4"'],
        ['system=~"chat-api|search-api"', "type!=data_leak"],
        ['system=~"chat-.*"', "type=performance"],  # a family random names do not fall in
        ["system=chat-api", "alertname=HighLatency"],
    ],
)
def test_narrow_silences_are_a_responders(matchers: list[str]) -> None:
    """A bounded set of systems plus one more narrowing label is a responder's to set."""
    assert not _needs_admin(*matchers)


def test_a_family_that_covers_every_configured_system_is_broad() -> None:
    """A regex that happens to match every system the config names covers them all."""
    known = ("chat-api", "search-api")
    assert _needs_admin('system=~".*-api"', "type=performance", known=known)
    assert not _needs_admin('system=~".*-api"', "type=performance", known=("chat-api", "batch"))


def test_longer_than_the_maximum_needs_an_admin() -> None:
    """Seven days is a responder's; a minute more is not."""
    assert not _needs_admin("system=a", "type=bias", hours=24 * 7)
    assert _needs_admin("system=a", "type=bias", hours=24 * 7 + 1 / 60)


def test_the_probes_are_fresh_and_not_the_empty_string() -> None:
    """Every decision draws new names, so no regex can be written to miss them."""
    first, second = random_names(), random_names()
    assert first != second and "" not in first
    assert "system" not in restricted_labels(parse_matchers(['system=~".+"']), first)
    assert "system" in restricted_labels(parse_matchers(['system=~"a|b"']), first)
