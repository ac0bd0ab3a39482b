"""Pure: what an incident waits for from a person, and the incident list's order.

The console's "waiting for you" panel and the postmortem read `waiting_for_you`; the
console sorts incidents with `urgency_key` (those waiting for a person first).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from defib.incidents.sentences import text_of

# -- what waits for a person --------------------------------------------------------------


class AskKind(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    APPROVE = "approve"
    ATTENTION = "attention"
    FAILED = "failed"
    UNVERIFIED = "unverified"
    TRIAGE = "triage"


@dataclass(frozen=True, slots=True)
class Ask:
    """Something that waits for a person, with where its button is."""

    kind: AskKind
    text: str
    run_id: str | None = None
    step_index: int | None = None


def waiting_for_you(*, status: str, needs_triage: bool, runs: Iterable[Any]) -> list[Ask]:
    """What the incident wants from a person now, most urgent first.

    `runs` are `Run`-like objects (status, steps with status/name/index/output, error).
    """
    asks: list[Ask] = []
    for run in runs:
        if getattr(run, "dry_run", False):
            continue
        for step in run.steps:
            if step.status == "waiting_approval":
                asks.append(
                    Ask(AskKind.APPROVE, f"Approve or reject {step.name}", run.id, step.index)
                )
            elif step.status == "unverified":
                # The stored reason ends with how to confirm from the CLI; the page has the button.
                reason = text_of((step.output or {}).get("reason")).split(". Confirm with")[0]
                reason = reason.removeprefix("nothing proves the failure gone: ")
                asks.append(
                    Ask(
                        AskKind.UNVERIFIED,
                        f"{step.name} is unverified"
                        + (f": {reason}" if reason else "")
                        + ". Check the fix, then mark the incident mitigated",
                        run.id,
                        step.index,
                    )
                )
        if run.status == "needs_attention" and run.error:
            asks.append(Ask(AskKind.ATTENTION, f"Playbook {run.playbook}: {run.error}", run.id))
        elif run.status in ("failed", "timed_out") and status not in ("resolved", "closed"):
            why = f": {run.error}" if run.error else ""
            asks.append(
                Ask(
                    AskKind.FAILED,
                    f"Playbook {run.playbook} {run.status.replace('_', ' ')}{why};"
                    " retry the step or act by hand",
                    run.id,
                )
            )
    if needs_triage and status not in ("resolved", "closed"):
        asks.append(Ask(AskKind.TRIAGE, "Confirm the type defib guessed, or retype it"))
    if status == "detected":
        asks.insert(0, Ask(AskKind.ACKNOWLEDGE, "Acknowledge it: nobody has yet"))
    return asks


# -- the incident list's order -------------------------------------------------------------


def urgency_key(
    *, status: str, severity: str, detected_at: datetime, waiting: bool
) -> tuple[int, int, int, float]:
    """Sort key, smallest first: unacknowledged SEV1, then anything waiting for a person,
    then open by severity (a mitigated one after one still burning) and age (oldest
    first), then the resolved and closed ones, newest first."""
    rank = int(severity[-1]) if severity[-1:].isdigit() else 9
    age = detected_at.timestamp()
    if status in ("resolved", "closed"):
        return (3, 0, 0, -age)
    if status == "detected" and rank == 1:
        return (0, rank, 0, age)
    if waiting or status == "detected":
        return (1, rank, 0, age)
    return (2, rank, int(status == "mitigated"), age)
