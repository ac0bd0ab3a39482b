"""An escalation policy as a timetable of pages, and which policies an incident pages. Pure.

Level 1 pages `after` its delay from the incident's opening (0s: at once), each later
level `after` its delay from the level before; after the last level the chain starts
again `repeat_after` later, `repeat` more times. Every page is identified by (policy,
level, repeat), the key its deliveries and timeline events carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from defib.oncall.model import Policy, Target

# Bounds on one policy's timetable (also enforced by the config).
MAX_LEVELS = 10
MAX_REPEAT = 10


@dataclass(frozen=True, slots=True)
class Page:
    """One page: `targets` of `level` (1-based) in pass `repeat` (0 = first), at `offset`
    from the start of escalation; `wait` is the delay since the page before it."""

    policy: str
    level: int
    repeat: int
    offset: timedelta
    wait: timedelta
    targets: tuple[Target, ...]

    @property
    def key(self) -> str:
        return f"{self.policy}:{self.level}:{self.repeat}"

    @property
    def escalated(self) -> bool:
        """Past the first level of the first pass: nobody acknowledged the page before."""
        return self.level > 1 or self.repeat > 0


def timetable(policy: Policy) -> list[Page]:
    """Every page `policy` sends if nobody acknowledges, in order."""
    pages: list[Page] = []
    offset = timedelta(0)
    for repeat in range(policy.repeat + 1):
        for i, level in enumerate(policy.levels):
            wait = level.after
            if i == 0 and repeat > 0:
                wait = policy.repeat_after + level.after
            offset += wait
            pages.append(Page(policy.name, i + 1, repeat, offset, wait, level.notify))
    return pages


def pages_severity(policy: Policy, severity: str) -> bool:
    return severity in policy.severities


def policies_for(
    systems: Sequence[str],
    system_policy: Mapping[str, str | None],
    default_policy: str | None,
) -> list[str]:
    """The policies an incident of `systems` pages: each configured system's owners' policy,
    plus the default owners' when a system is not configured, the incident names none, or
    no system's owners name a policy (`default_owners` hears what no system covers)."""
    named: list[str] = []
    uncovered = not systems
    for name in systems:
        if name not in system_policy:
            uncovered = True
            continue
        policy = system_policy[name]
        if policy is not None and policy not in named:
            named.append(policy)
    if default_policy is not None and (uncovered or not named) and default_policy not in named:
        named.append(default_policy)
    return named
