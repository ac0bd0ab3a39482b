"""Telling the outside world that a playbook step waits for a person (e.g. Slack buttons),
or that a run ended needing one (`needs_attention`).

The engine calls `announce` right after it has committed a step's waiting state; listeners
run in the engine's thread and must hand slow work (HTTP) to a thread of their own. A
listener's failure is logged, never raised into the run: the step waits either way and
people can still decide from the CLI, the API or the console.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WaitingStep:
    run_id: str
    index: int
    step: str
    incident_seq: int
    role: str
    deadline: str
    asks: str


WaitingListener = Callable[[WaitingStep], None]


def announce(listeners: Sequence[WaitingListener], waiting: WaitingStep) -> None:
    for listener in listeners:
        try:
            listener(waiting)
        except Exception:
            log.exception("waiting-step listener %r failed", listener)


@dataclass(frozen=True, slots=True)
class RunNeedsAttention:
    """A run ended needing a person: `needs_attention`, or the stricter `failed` /
    `timed_out` (the workflow announces all three); its reasons are on the run (`error`)."""

    run_id: str
    incident_seq: int


AttentionListener = Callable[[RunNeedsAttention], None]


def announce_attention(listeners: Sequence[AttentionListener], item: RunNeedsAttention) -> None:
    for listener in listeners:
        try:
            listener(item)
        except Exception:
            log.exception("needs-attention listener %r failed", listener)
