"""What to do with a run whose workflow no longer matches it, and when a run is stuck (pure).

Our tables say what people see; DBOS's say what will execute. They disagree when a
workflow ended in error (a bug, a replay that diverged, storage failing at the wrong
moment), was cancelled with DBOS's own tools, exhausted its recoveries, or died in this
process without DBOS recording it (SQLite on a full disk). Left alone such a run sits in
`running` with nothing behind it. `verdict` decides, from both sides, whether to leave it,
drive it again (a new workflow for the same generation: its steps' idempotency keys do
not change, so a step that was in flight re-sends with the same key), or fail it loudly.

`stuck_since` is the watchdog's rule: a run that made no progress for longer than its
current step may legitimately take, plus a margin.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from defib.playbooks.runs import ACTIVE_RUN_STATUSES, Run, RunStatus, RunStep
from defib.playbooks.spec import Playbook, Step

__all__ = [
    "MAX_REDRIVES",
    "Verdict",
    "VerdictKind",
    "WorkflowState",
    "redrive_count",
    "redrive_workflow_id",
    "step_allowance",
    "stuck_since",
    "verdict",
]

# A run whose workflow died of storage failures this many times is failed, not re-driven.
MAX_REDRIVES = 10
_REDRIVE_MARK = "@r"

# DBOS's workflow statuses (strings, so this module needs no DBOS import).
_DEAD = frozenset({"ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})


def redrive_workflow_id(workflow_id: str, attempt: int) -> str:
    """The workflow id of re-drive `attempt` (1-based) of a generation's workflow."""
    return f"{base_workflow_id(workflow_id)}{_REDRIVE_MARK}{attempt}"


def base_workflow_id(workflow_id: str) -> str:
    return workflow_id.split(_REDRIVE_MARK, 1)[0]


def redrive_count(workflow_id: str) -> int:
    """How many times this generation's workflow was re-driven (0: the original)."""
    _, _, n = workflow_id.partition(_REDRIVE_MARK)
    return int(n) if n.isdigit() else 0


@dataclass(frozen=True, slots=True)
class WorkflowState:
    """What DBOS knows of a run's current workflow (None status: DBOS has no such workflow)."""

    status: str | None
    error: str | None = None
    # The error (or its cause) means storage was unusable, not that the run is wrong.
    storage_error: bool = False
    # PENDING on this executor, yet no coroutine of this process runs it (it died unrecorded).
    orphaned: bool = False


class VerdictKind(enum.StrEnum):
    NONE = "none"
    RESUME = "resume"  # hand the same workflow back to the queue (DBOS replays it)
    REDRIVE = "redrive"  # a new workflow for the same generation
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    reason: str = ""


def verdict(run: Run, workflow: WorkflowState, max_redrives: int = MAX_REDRIVES) -> Verdict:
    """What to do about an active run, given its workflow's state."""
    if run.status not in ACTIVE_RUN_STATUSES:
        return Verdict(VerdictKind.NONE)
    if workflow.orphaned:
        return Verdict(VerdictKind.RESUME, "its workflow stopped in this process unrecorded")
    if workflow.status is None or workflow.status not in _DEAD:
        # Unknown to DBOS: the sweeper enqueues pending runs. Live: leave it be.
        return Verdict(VerdictKind.NONE)
    done = redrive_count(run.workflow_id)
    if workflow.status == "ERROR" and workflow.storage_error:
        if done < max_redrives:
            return Verdict(
                VerdictKind.REDRIVE,
                f"its workflow failed while storage was unavailable ({workflow.error}); "
                f"driven again ({done + 1} of {max_redrives})",
            )
        return Verdict(
            VerdictKind.FAIL,
            f"its workflow failed {done + 1} times while storage was unavailable: {workflow.error}",
        )
    if workflow.status == "CANCELLED":
        return Verdict(VerdictKind.FAIL, "its workflow was cancelled outside defib")
    if workflow.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
        return Verdict(
            VerdictKind.FAIL, "its workflow exhausted its recovery attempts (it crashed each time)"
        )
    return Verdict(VerdictKind.FAIL, f"its workflow ended in error: {workflow.error or 'unknown'}")


def step_allowance(step: Step) -> float:
    """The longest a step may run with no visible progress: every attempt to its timeout,
    and the longest backoff before each retry."""
    retries = step.retries
    backoff = sum(
        min(retries.max_backoff_seconds, retries.backoff_seconds * 2.0 ** min(a - 1, 64))
        for a in range(1, retries.count + 1)
    )
    return step.timeout_seconds * (retries.count + 1) + backoff


def _last_progress(run: Run) -> datetime:
    moments = [run.created_at]
    if run.started_at is not None:
        moments.append(run.started_at)
    for s in run.steps:
        moments.extend(m for m in (s.started_at, s.ended_at) if m is not None)
    return max(moments)


def _current(run: Run) -> RunStep | None:
    for s in run.steps:
        if s.status in (RunStatus.RUNNING, RunStatus.WAITING_APPROVAL):
            return s
    return None


def stuck_since(run: Run, now: datetime, margin_seconds: float) -> datetime | None:
    """When an active run became stuck (its allowance plus the margin ran out), or None."""
    if run.status not in ACTIVE_RUN_STATUSES:
        return None
    margin = timedelta(seconds=margin_seconds)
    step = _current(run)
    if step is not None and step.deadline_at is not None:
        # A wait or an approval: its deadline is known; past it plus the margin, stuck.
        limit = step.deadline_at + margin
    elif step is not None:
        try:
            spec = Playbook.from_dict(run.spec).steps[step.index]
        except (ValueError, IndexError, KeyError, TypeError):
            return None
        started = step.started_at or _last_progress(run)
        limit = started + timedelta(seconds=step_allowance(spec)) + margin
    else:
        # Pending, or between steps: the next move is the engine's, within the margin.
        limit = _last_progress(run) + margin
    return limit if now > limit else None
