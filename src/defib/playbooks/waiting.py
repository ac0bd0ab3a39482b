"""Telling the outside world that a playbook step waits for a person (e.g. Slack buttons).

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
