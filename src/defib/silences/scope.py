"""How much a silence covers, and so who may set it. Pure.

Every alert defib matches carries three labels: `type` (six values), `severity` (four)
and `system` (any name). A silence that leaves `system` open (it matches names nobody has
seen yet) or narrows nothing but the system covers every alert of a type, of a system, or
everything: only an admin may set it. Deciding "matches every value" for the open label
`system` by the empty string alone is what `system=~".+"` slipped through; here a matcher
is open when it matches any of a set of fresh random names, which the caller draws anew
for each decision so that no regular expression can be written to miss them.

A silence longer than the configured maximum needs an admin too.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from defib.model import IncidentType, Severity
from defib.silences.matchers import Matcher

TYPES = tuple(t.value for t in IncidentType)
SEVERITIES = tuple(s.value for s in Severity)
_FINITE = {"type": TYPES, "severity": SEVERITIES}
_NAME_CHARS = string.ascii_lowercase + string.digits + "-"


def random_names(count: int = 24) -> tuple[str, ...]:
    """Fresh system names nobody configured: the probes for "matches any name".

    Shaped like real names (lowercase, digits, dashes, of several lengths) and a few not
    (upper case, dots, underscores, spaces, non-ASCII), so that a character class wide
    enough to take real names takes some of these too.
    """
    # At least four characters: a probe that happened to equal a real name (`a`) would make
    # an honest `system=a` look open.
    names: list[str] = [secrets.token_hex(4), secrets.token_hex(8)]
    for i in range(count):
        length = 4 + i % 16
        names.append("".join(secrets.choice(_NAME_CHARS) for _ in range(length)))
    for extra in (string.ascii_uppercase + "._ /", "äöüéß漢字"):
        names.append("".join(secrets.choice(_NAME_CHARS + extra) for _ in range(10)))
    return tuple(names)


def _all_match(matchers: Iterable[Matcher], label: str, value: str) -> bool:
    return all(m.matches({label: value}) for m in matchers)


def restricted_labels(
    matchers: Sequence[Matcher], probes: Sequence[str], known_systems: Sequence[str] = ()
) -> frozenset[str]:
    """The labels the silence really narrows.

    `type`, `severity`: some value of the label is left out. `system`: no probe name is
    matched, nor every configured system (a family like `chat-.*` narrows; `.+`,
    `[a-z0-9-]+`, `!=x` do not). Any other label: an alert without it is left out (the
    label must be present, as Alertmanager's empty-string rule has it).
    """
    by_label: dict[str, list[Matcher]] = {}
    for m in matchers:
        by_label.setdefault(m.name, []).append(m)
    out: set[str] = set()
    for label, group in by_label.items():
        if label in _FINITE:
            if not all(_all_match(group, label, v) for v in _FINITE[label]):
                out.add(label)
        elif label == "system":
            open_ = any(_all_match(group, label, p) for p in probes)
            everyone = len(known_systems) > 1 and all(
                _all_match(group, label, s) for s in known_systems
            )
            if not open_ and not everyone:
                out.add(label)
        elif not _all_match(group, label, ""):
            out.add(label)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Scope:
    """Why a silence needs an admin ([] when a responder may set it)."""

    reasons: tuple[str, ...]

    @property
    def needs_admin(self) -> bool:
        return bool(self.reasons)


def judge(
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    *,
    max_duration: timedelta,
    probes: Sequence[str],
    known_systems: Sequence[str] = (),
) -> Scope:
    """What about this silence is beyond a responder: its breadth, its length."""
    reasons: list[str] = []
    narrowed = restricted_labels(matchers, probes, known_systems)
    if "system" not in narrowed:
        reasons.append(
            'it covers every system (name the systems with system="..." or a family such'
            ' as system=~"chat-.*")'
        )
    elif narrowed == {"system"}:
        reasons.append(
            "it covers every alert of a system (narrow it with type, severity or another label)"
        )
    if ends_at - starts_at > max_duration:
        reasons.append(f"it lasts longer than {_human(max_duration)}")
    return Scope(tuple(reasons))


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours:g} hours"
