"""Pure: an incident's timeline told in sentences a person reads at 3 a.m.

The console, `defib timeline` and the postmortem all tell the story from here, so they say
the same thing: "Rolled support-bot back from v2 to v1", "Notified security by slack",
"Verified: 1 captured sample(s) replayed clean (pii); marked mitigated". Each event gets
one sentence (what changed, from → to where there is a before) and a readable actor.

Events are read in the order they happened: a system's state change names the version it
left only because an earlier event said which version was active.

The sentences for each kind live in `defib.incidents.sentences`, what waits for a person and
the list order in `defib.incidents.asks`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from defib.events import TimelineKind as K
from defib.incidents.asks import Ask, AskKind, urgency_key, waiting_for_you
from defib.incidents.sentences import (
    CONTAINMENT_WITHHELD,
    STEP_APPROVED,
    STEP_REJECTED,
    TELLERS,
    VERSION_MARKED,
    StoryState,
    Tone,
    fallback_text,
    impact_text,
    text_of,
    utc_text,
    who,
)

__all__ = [
    "CONTAINMENT_WITHHELD",
    "MAX_TEXT",
    "STEP_APPROVED",
    "STEP_REJECTED",
    "TELLERS",
    "VERSION_MARKED",
    "Ask",
    "AskKind",
    "Event",
    "Line",
    "Tone",
    "impact_text",
    "tell",
    "urgency_key",
    "utc_text",
    "waiting_for_you",
    "what_was_done",
    "who",
]

MAX_TEXT = 600


@dataclass(frozen=True, slots=True)
class Event:
    """What the story reads of one timeline event (stored row or the API's JSON)."""

    at: datetime
    actor: str
    kind: str
    data: Mapping[str, Any]

    @classmethod
    def of(cls, raw: Any) -> Event:
        """From a `TimelineEvent`-like object or a mapping with `at` as ISO-8601 text."""
        if isinstance(raw, Mapping):
            at, actor, kind, data = raw["at"], raw["actor"], raw["kind"], raw.get("data")
        else:
            at, actor, kind, data = raw.at, raw.actor, raw.kind, raw.data
        if isinstance(at, str):
            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return cls(at, str(actor), str(kind), data if isinstance(data, Mapping) else {})


@dataclass(frozen=True, slots=True)
class Line:
    """One event told: when, who (readable), the sentence, and whether it acted."""

    at: datetime
    actor: str
    text: str
    tone: Tone
    kind: str
    # True for what changed the incident or the world (the "what defib did" list);
    # False for bookkeeping (a step started, a notice being sent).
    acted: bool
    raw_actor: str = ""
    step: str | None = None  # the playbook step it is about, if any (the run card's lines)


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def tell(events: Iterable[Any]) -> list[Line]:
    """Every event as a line, in the order given (give them oldest first)."""
    state = StoryState()
    lines: list[Line] = []
    # The step each run is in: a state change a step makes names its system, not its step.
    current: dict[str, str] = {}
    for raw in events:
        event = raw if isinstance(raw, Event) else Event.of(raw)
        if event.kind == K.STEP_STARTED and event.data.get("step"):
            current[event.actor] = text_of(event.data["step"])
        teller = TELLERS.get(event.kind)
        if teller is None:
            text, tone, acted = fallback_text(event.kind, event.data), Tone.INFO, False
        else:
            text, tone, acted = teller(event.data, state)
        lines.append(
            Line(
                at=event.at,
                actor=who(event.actor, state.playbooks),
                text=_clip(text),
                tone=tone,
                kind=event.kind,
                acted=acted,
                raw_actor=event.actor,
                step=text_of(event.data.get("step")) or current.get(event.actor),
            )
        )
        if event.kind in _DECIDED:
            _settle_wait(lines, text_of(event.data.get("run_id")), text_of(event.data.get("step")))
    return lines


# A wait for approval ends with one of these; the wait then reads as history, not a to-do.
_DECIDED = frozenset({STEP_APPROVED, STEP_REJECTED, K.STEP_APPROVAL_TIMED_OUT})


def _settle_wait(lines: list[Line], run_id: str, step: str) -> None:
    for i, line in enumerate(lines):
        if (
            line.kind == K.STEP_WAITING_APPROVAL
            and line.tone is Tone.WAITING
            and line.step == step
            and (not run_id or line.raw_actor == f"run:{run_id}")
        ):
            lines[i] = dataclasses.replace(line, tone=Tone.INFO)


# Per-user lines, folded into one line per run of them in "what was done".
_PER_USER = frozenset(
    {K.STEP_USER_NOTIFIED, K.STEP_USER_NOTIFICATION_FAILED, K.STEP_USER_NOT_NOTIFIABLE}
)


def what_was_done(lines: Sequence[Line]) -> list[Line]:
    """The lines that acted: what defib and people did, without the bookkeeping; a run of
    per-user notices of one kind reads as one line ("Could not tell 4 affected users")."""
    out: list[Line] = []
    run: list[Line] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            verb = run[0].text.split(" affected user ")[0]
            reasons = {line.text.partition(": ")[2] for line in run}
            why = f": {reasons.pop()}" if len(reasons) == 1 and "" not in reasons else ""
            text = f"{verb} {len(run)} affected users{why}"
            out.append(dataclasses.replace(run[0], text=text))
        run.clear()

    for line in lines:
        if not line.acted:
            continue
        if line.kind in _PER_USER and (not run or run[0].kind == line.kind):
            run.append(line)
            continue
        flush()
        if line.kind in _PER_USER:
            run.append(line)
        else:
            out.append(line)
    flush()
    return out
