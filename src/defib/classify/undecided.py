"""What happens to an alert the rules leave undecided: backstop, triage, or no incident.

A silent "no incident" is the worst answer an incident tool can give, so an undecided
alert is not dropped just because none of its words are in the rules:

1. The backstop compares its text with the type descriptions. A confident match (or a
   match that agrees with weak rule evidence) types the alert.
2. Otherwise, an alert that may be an incident opens one marked `needs_triage`, typed with
   the best guess (weak rule evidence first, then the backstop), for a person to confirm
   or retype. "May be an incident": a detector finding in its samples, or some AI-incident
   vocabulary (weak rule evidence, or a backstop score above its floor) with a source
   severity of warning or above (or none at all, with a backstop score at its confident
   level). Heartbeats, tests, notices and resolved notifications never get here: the
   gates and the status check answer them first.
3. Anything else (a low/info alert, or words that share nothing with any type) is no
   incident, and the reason says what the backstop saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from defib.classify.backstop import Backstop, BackstopMatch
from defib.classify.exposure import leak_doubt
from defib.classify.severity import DEFAULT_POLICY, SeverityPolicy
from defib.model import Alert, IncidentType

# Source levels that make an alert worth a person's look.
_TRIAGE_LEVELS = frozenset({"critical", "high", "warning"})

if TYPE_CHECKING:  # analysis imports this module lazily; no cycle at run time
    from defib.classify.analysis import Analysis


def settle(
    alert: Alert,
    text: str,
    undecided: Analysis,
    ranked: Sequence[tuple[IncidentType, float]],
    backstop: Backstop,
    policy: SeverityPolicy | None = None,
) -> Analysis:
    """The final answer for an alert whose rule scores stayed below the floor."""
    match = backstop.nearest(text)
    weak = ranked[0] if ranked else None
    # A data_leak answer pages security at SEV1: from here (no rule decided) it needs the
    # text to report data that got out (and not only input contained before the model),
    # else the next reading is taken.
    doubt = leak_doubt(text)
    if doubt is not None:
        if match is not None and match.type is IncidentType.DATA_LEAK:
            match = _set_leak_aside(match, doubt)
        if weak is not None and weak[0] is IncidentType.DATA_LEAK:
            weak = ranked[1] if len(ranked) > 1 else None
    if match is not None and (match.confident or (weak is not None and weak[0] is match.type)):
        why = "agrees with weak rule evidence" if not match.confident else "confident"
        return dataclasses.replace(
            undecided,
            type=match.type,
            stage="backstop",
            reason=f"backstop ({why}): {match.describe()}; rules: {undecided.reason}",
            backstop=match,
        )
    level = (policy or DEFAULT_POLICY).level(alert.severity)
    finding = any(h.rule == "samples" for h in undecided.hits)
    vocabulary = weak is not None or (match is not None and match.score >= backstop.floor)
    # A source that gives no severity word gets triage only on strong vocabulary: calendar
    # reminders and chat notices rarely carry a severity either.
    strong = match is not None and match.score >= backstop.confident_score
    if finding or (vocabulary and level in _TRIAGE_LEVELS) or (strong and level is None):
        guess = weak[0] if weak is not None else match.type if match is not None else None
        if guess is not None:
            seen = match.describe() if match is not None else "backstop: no shared words"
            return dataclasses.replace(
                undecided,
                type=guess,
                stage="triage",
                needs_triage=True,
                reason=(
                    f"needs triage, best guess {guess.value}: rules: {undecided.reason}; "
                    f"backstop (not confident): {seen}"
                ),
                backstop=match,
            )
    seen = match.describe() if match is not None else "no shared words"
    return dataclasses.replace(
        undecided,
        reason=f"{undecided.reason}; backstop: {seen}; source severity {alert.severity or 'none'}",
        backstop=match,
    )


def _set_leak_aside(match: BackstopMatch, doubt: str) -> BackstopMatch | None:
    """The runner-up reading of a data_leak match whose text puts a leak in doubt."""
    if match.runner_up is None:
        return None
    return dataclasses.replace(
        match,
        type=match.runner_up,
        score=match.runner_up_score,
        description=f"{match.description}, data_leak set aside: {doubt}",
        runner_up=None,
        runner_up_score=0.0,
        confident=False,
    )
