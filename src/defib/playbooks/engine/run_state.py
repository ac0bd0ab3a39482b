"""Run state: the one place that writes runs and steps (`playbook_runs`, `playbook_run_steps`)
and the timeline events that go with each change.

Every function works on the caller's connection, inside the caller's transaction: the
ledger's (the workflow's bookkeeping and people's cancel and retry, often group-committed)
and the reconciler's. Whoever decides a change, the rows and its event are written here,
so the rules hold in one place: a step row changes only while it is active, a run that
already ended is not ended again, and every event carries an idempotency key, so a change
re-executed after a crash lands once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func

from defib.events import RecordedKind, TimelineKind
from defib.model import DomainError, NotFound, TimelineEvent
from defib.playbooks.attention import attention_reasons
from defib.playbooks.engine.outcome import StepOutcome
from defib.playbooks.runs import (
    ACTIVE_RUN_STATUSES,
    FAILED_STEP_STATUSES,
    RETRYABLE_STEP_STATUSES,
    TERMINAL_STATUSES,
    Run,
    RunStatus,
    run_actor,
    step_key,
    workflow_id_for,
)
from defib.playbooks.spec import Playbook, Step
from defib.store import incidents as incident_repo
from defib.store import runs as repo
from defib.store.tables import playbook_run_steps

RECONCILER_ACTOR = "defib:reconciler"


class RunConflict(DomainError):
    """The run cannot do that now (an active run exists, the step is not waiting, ...)."""

    code = "conflict"


@dataclass(frozen=True, slots=True)
class StepRef:
    """One step of one generation of a run, and the incident whose timeline it writes to."""

    run_id: str
    gen: int
    index: int
    name: str
    seq: int

    def key(self, suffix: str) -> str:
        return f"{step_key(self.run_id, self.index, self.gen)}:{suffix}"


def event(
    conn: Connection,
    seq: int,
    at: datetime,
    actor: str,
    kind: RecordedKind,
    data: Mapping[str, Any],
    key: str | None,
) -> None:
    """One timeline event; with a `key`, written once however often it is asked for."""
    incident_repo.append_event(conn, seq, TimelineEvent(at, actor, kind, data), idempotency_key=key)


# -- a run's life ---------------------------------------------------------------------------


def plan(conn: Connection, run: Run, actor: str) -> bool:
    """Insert a pending run (`run_planned` on the timeline); False when the incident already
    has this playbook running."""
    if not repo.insert_run(conn, run, run.created_at):
        return False
    data = {
        "run_id": run.id,
        "playbook": run.playbook,
        "version": run.playbook_version,
        "trigger": run.trigger,
        "dry_run": run.dry_run,
    }
    event(conn, run.incident_seq, run.created_at, actor, TimelineKind.RUN_PLANNED, data, None)
    return True


def mark_running(conn: Connection, run: Run, now: datetime, executor_id: str | None) -> None:
    """A workflow took the run up: running, `run_started` once per workflow."""
    repo.update_run(
        conn, run.id, now, status=RunStatus.RUNNING.value, started_at=run.started_at or now
    )
    data = {
        "run_id": run.id,
        "playbook": run.playbook,
        "generation": run.generation,
        "dry_run": run.dry_run,
        "executor": executor_id,
    }
    key = f"{run.workflow_id}:started"
    event(conn, run.incident_seq, now, run_actor(run.id), TimelineKind.RUN_STARTED, data, key)


def finish(
    conn: Connection,
    run: Run,
    gen: int,
    aborted_at: int | None,
    abort_status: str | None,
    now: datetime,
) -> str:
    """End the run (status from its steps' rows) unless it ended already; its status."""
    run_id = run.id
    if run.status in TERMINAL_STATUSES:
        return run.status.value  # cancelled meanwhile
    error = None
    if aborted_at is not None:
        name = run.steps[aborted_at].name
        error = f"aborted at step {aborted_at} ({name}): {abort_status}"
        repo.update_steps(
            conn,
            run_id,
            now,
            from_index=aborted_at + 1,
            only_statuses=ACTIVE_RUN_STATUSES,
            status=RunStatus.CANCELLED.value,
            ended_at=now,
            error=f"run aborted at step {aborted_at} ({name})",
        )
        status = RunStatus(abort_status or RunStatus.FAILED)
    else:
        bad = [s for s in run.steps if s.status in FAILED_STEP_STATUSES]
        status = RunStatus.FAILED if bad else RunStatus.SUCCEEDED
        if bad:
            error = f"{len(bad)} step(s) failed: " + ", ".join(s.name for s in bad)
    reasons: list[str] = []
    if status is RunStatus.SUCCEEDED and not run.dry_run:
        severity = incident_repo.get_incident(conn, run.incident_seq).severity.value
        reasons = attention_reasons(Playbook.from_dict(run.spec).steps, run.steps, severity)
        if reasons:
            status, error = RunStatus.NEEDS_ATTENTION, "; ".join(reasons)
    repo.update_run(conn, run_id, now, status=status.value, ended_at=now, error=error)
    actor = run_actor(run_id)
    if reasons:
        # Before run_finished, which stays the run's last event.
        reasoned: dict[str, Any] = {"run_id": run_id, "playbook": run.playbook, "reasons": reasons}
        key = f"{run.workflow_id}:attention"
        event(conn, run.incident_seq, now, actor, TimelineKind.RUN_NEEDS_ATTENTION, reasoned, key)
    ended: dict[str, Any] = {
        "run_id": run_id,
        "status": status.value,
        "error": error,
        "generation": gen,
    }
    key = f"{run.workflow_id}:finished"
    event(conn, run.incident_seq, now, actor, TimelineKind.RUN_FINISHED, ended, key)
    return status.value


def cancel(conn: Connection, run_id: str, now: datetime, actor: str) -> tuple[Run, list[int]]:
    """Mark an active run and its active steps cancelled; the run as it was, and the
    indexes of its steps that were waiting for approval."""
    run = repo.get_run(conn, run_id, for_update=True)
    if run.status in TERMINAL_STATUSES:
        raise RunConflict(f"run {run_id} already ended ({run.status})")
    waiting = [s.index for s in run.steps if s.status is RunStatus.WAITING_APPROVAL]
    error = f"cancelled by {actor}"
    repo.update_steps(
        conn,
        run_id,
        now,
        from_index=0,
        only_statuses=ACTIVE_RUN_STATUSES,
        status=RunStatus.CANCELLED.value,
        ended_at=now,
        error=error,
    )
    repo.update_run(conn, run_id, now, status=RunStatus.CANCELLED.value, ended_at=now, error=error)
    key = f"{run.workflow_id}:cancelled"
    event(conn, run.incident_seq, now, actor, TimelineKind.RUN_CANCELLED, {"run_id": run_id}, key)
    return run, waiting


def reopen(conn: Connection, run_id: str, index: int, now: datetime, actor: str) -> str:
    """Make a failed step (and the steps its failure cancelled) pending again as a new
    generation of an ended run; the new generation's workflow id."""
    run = repo.get_run(conn, run_id, for_update=True)
    if not 0 <= index < len(run.steps):
        raise NotFound(f"run {run_id} has no step {index}")
    if run.status not in TERMINAL_STATUSES:
        raise RunConflict(f"run {run_id} is still {run.status}; cancel it first")
    if run.steps[index].status not in RETRYABLE_STEP_STATUSES:
        raise RunConflict(
            f"step {index} of run {run_id} is {run.steps[index].status}; "
            "only failed or timed_out steps can be retried"
        )
    generation = run.generation + 1
    workflow_id = workflow_id_for(run_id, generation)
    try:
        with conn.begin_nested():
            repo.update_run(
                conn,
                run_id,
                now,
                only_active=False,
                status=RunStatus.PENDING.value,
                generation=generation,
                workflow_id=workflow_id,
                ended_at=None,
                error=None,
            )
    except Exception as exc:
        raise RunConflict(f"{run.playbook!r} already has an active run for this incident") from exc
    repo.update_step(
        conn, run_id, index, now, status=RunStatus.PENDING.value, error=None, ended_at=None
    )
    repo.update_steps(
        conn,
        run_id,
        now,
        from_index=index + 1,
        only_statuses=[RunStatus.CANCELLED, RunStatus.PENDING],
        status=RunStatus.PENDING.value,
        error=None,
        ended_at=None,
    )
    data = {"run_id": run_id, "step": run.steps[index].name, "index": index}
    key = f"{workflow_id}:retry-requested"
    event(conn, run.incident_seq, now, actor, TimelineKind.STEP_RETRY_REQUESTED, data, key)
    return workflow_id


# -- the reconciler's changes ---------------------------------------------------------------


def claim(conn: Connection, run: Run) -> bool:
    """Lock the run; whether it is still active under the workflow id the caller judged."""
    current = repo.get_run(conn, run.id, for_update=True)
    return current.status in ACTIVE_RUN_STATUSES and current.workflow_id == run.workflow_id


def fail(conn: Connection, run: Run, now: datetime, reason: str) -> bool:
    """Fail a run nothing drives any more (the reconciler's verdict); False if it moved on."""
    if not claim(conn, run):
        return False
    error = f"reconciled: {reason}"
    repo.update_steps(
        conn,
        run.id,
        now,
        from_index=0,
        only_statuses=[RunStatus.RUNNING, RunStatus.WAITING_APPROVAL],
        status=RunStatus.FAILED.value,
        ended_at=now,
        error=error,
    )
    repo.update_steps(
        conn,
        run.id,
        now,
        from_index=0,
        only_statuses=[RunStatus.PENDING],
        status=RunStatus.CANCELLED.value,
        ended_at=now,
        error="not run: the run was failed by the reconciler",
    )
    repo.update_run(conn, run.id, now, status=RunStatus.FAILED.value, ended_at=now, error=error)
    data = {
        "run_id": run.id,
        "status": RunStatus.FAILED.value,
        "error": error,
        "generation": run.generation,
        "reconciled": True,
    }
    key = f"{run.workflow_id}:finished"
    event(conn, run.incident_seq, now, RECONCILER_ACTOR, TimelineKind.RUN_FINISHED, data, key)
    return True


def redrive(conn: Connection, run: Run, new_workflow_id: str, now: datetime, reason: str) -> bool:
    """Hand the run to a new workflow (the old one ended on a storage failure); False if it
    moved on meanwhile."""
    if not claim(conn, run):
        return False
    repo.update_run(conn, run.id, now, workflow_id=new_workflow_id)
    data = {"run_id": run.id, "workflow_id": new_workflow_id, "reason": reason}
    key = f"{new_workflow_id}:redriven"
    event(conn, run.incident_seq, now, RECONCILER_ACTOR, TimelineKind.RUN_REDRIVEN, data, key)
    return True


# -- a step's life --------------------------------------------------------------------------


def transition(
    conn: Connection,
    ref: StepRef,
    now: datetime,
    kind: TimelineKind,
    suffix: str,
    data: Mapping[str, Any],
    *,
    step: Mapping[str, Any] | None = None,
    run: RunStatus | None = None,
    run_from: RunStatus | None = None,
    actor: str | None = None,
) -> None:
    """One change of a step: its row (`step` values, only while it is active), the run's
    status (`run`; only if it is `run_from` when given), and the event `kind` keyed
    `<step key>:<suffix>`, so a re-executed transition lands once."""
    if step is not None:
        repo.update_step(
            conn, ref.run_id, ref.index, now, only_statuses=ACTIVE_RUN_STATUSES, **step
        )
    if run is not None:
        if run_from is not None:
            repo.move_run(conn, ref.run_id, now, from_status=run_from, to=run)
        else:
            repo.update_run(conn, ref.run_id, now, status=run.value)
    payload = {"run_id": ref.run_id, "step": ref.name, "index": ref.index, **data}
    event(conn, ref.seq, now, actor or run_actor(ref.run_id), kind, payload, ref.key(suffix))


def mark_started(conn: Connection, ref: StepRef, step: Step, attempt: int, now: datetime) -> None:
    transition(
        conn,
        ref,
        now,
        TimelineKind.STEP_STARTED,
        f"started{attempt}",
        {"action": step.action, "attempt": attempt},
        step={
            "status": RunStatus.RUNNING.value,
            "attempts": attempt,
            "started_at": func.coalesce(playbook_run_steps.c.started_at, now),
        },
    )


def record_finished(conn: Connection, ref: StepRef, outcome: StepOutcome, now: datetime) -> None:
    """A step's outcome on its row and the timeline (a no-op on a row already ended)."""
    record = outcome.as_record()
    output = record.get("output")
    dry = bool(output and output.get("dry_run"))
    if outcome.reason and not dry and outcome.status in (RunStatus.SKIPPED, RunStatus.UNVERIFIED):
        # Why it was skipped or left unverified stays on the row, for people and for
        # the run's attention check (the timeline event has it too).
        output = {**(output or {}), "reason": outcome.reason}
    transition(
        conn,
        ref,
        now,
        TimelineKind.STEP_FINISHED,
        "finished",
        record,
        step={
            "status": record["status"],
            "attempts": outcome.attempts,
            "ended_at": now,
            "error": outcome.error,
            "output": output,
        },
        run=RunStatus.RUNNING,
        run_from=RunStatus.WAITING_APPROVAL,
    )
