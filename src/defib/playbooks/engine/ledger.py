"""The ledger: runs and steps as people read them (`playbook_runs`, `playbook_run_steps`)
and the timeline events that go with every change.

Its step-side methods run inside DBOS steps, so a replay after a crash skips those already
checkpointed; one that is re-executed (in flight at the crash) is harmless because every
row update is conditional on the row still being active and every event carries an
idempotency key. Each change of a step goes through `transition`: the row, maybe the run's
status, and the event, in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, func

from defib.clock import Clock
from defib.events import TimelineKind
from defib.model import DomainError, Incident, NotFound, TimelineEvent
from defib.playbooks.attention import attention_reasons
from defib.playbooks.engine.outcome import LoadedRun, StepOutcome
from defib.playbooks.runs import (
    ACTIVE_RUN_STATUSES,
    FAILED_STEP_STATUSES,
    RETRYABLE_STEP_STATUSES,
    TERMINAL_STATUSES,
    Run,
    RunStatus,
    RunStep,
    new_run_id,
    run_actor,
    step_key,
    workflow_id_for,
)
from defib.playbooks.spec import Playbook, Step
from defib.store import incidents as incident_repo
from defib.store import runs as repo
from defib.store.batching import BatchingThread
from defib.store.database import Database
from defib.store.outage import is_lock_conflict
from defib.store.tables import playbook_run_steps

T = TypeVar("T")
# Whether a step goes straight to its action (see `Workflow.plain`).
PlainStep = Callable[[Step, Mapping[str, Any], bool], bool]


class RunConflict(DomainError):
    """The run cannot do that now (an active run exists, the step is not waiting, ...)."""

    code = "conflict"


def incident_snapshot(incident: Incident) -> dict[str, Any]:
    """The incident fields templates and `when` conditions see (JSON, frozen at run start)."""
    return {
        "id": incident.id,
        "seq": incident.seq,
        "type": incident.type.value,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "title": incident.title,
        "description": incident.description,
        "systems": list(incident.affected_systems),
        "affected_systems": list(incident.affected_systems),
        "labels": dict(incident.labels),
        "alert_count": incident.alert_count,
        "commander": incident.commander,
        "fingerprint": incident.fingerprint,
        "needs_triage": incident.needs_triage,
    }


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


# -- group commit ---------------------------------------------------------------------------

# Bounds one group transaction (each job is a few statements).
MAX_GROUP_JOBS = 32
# After a commit with more work already waiting, leave the write lock free this long: other
# writers (intake, the API, heartbeats) wait for it in SQLite's busy handler, which only
# retries now and then, and would starve if the next group began at once.
GROUP_PAUSE_SECONDS = 0.002


# Runs of a job that lost a lock race (PostgreSQL deadlock) before its caller is told.
CONFLICT_RETRIES = 5


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    future: Future[Any] = field(default_factory=Future)
    attempts: int = 0


class GroupWriter(BatchingThread[_Job]):
    """Group commit for the engine's bookkeeping writes.

    Every run writes a few small transactions per step. One at a time, each pays a commit
    (an fsync on SQLite, whose single write lock also makes the others queue behind it) and
    takes the write lock while Python, contending for the GIL with every other run, builds
    its statements. Here one writer thread runs whatever jobs are waiting in one
    transaction, each job in its own savepoint (a job that fails is rolled back alone and
    its caller gets the exception), and commits once. A caller gets its answer only after
    the commit: nothing is acknowledged that is not durable.
    """

    thread_name = "defib-engine-writer"

    def __init__(self, db: Database, max_jobs: int = MAX_GROUP_JOBS) -> None:
        super().__init__(max_jobs, GROUP_PAUSE_SECONDS if db.is_sqlite else 0.0)
        self.db = db

    def run(self, fn: Callable[[Connection], T]) -> T:
        job = _Job(fn)
        self._put(job)
        return cast(T, job.future.result())

    def _commit(self, jobs: list[_Job]) -> None:
        done: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            # Defers to intake on PostgreSQL too (on SQLite every writer does).
            with self.db.write(defer=True) as conn:
                for job in jobs:
                    try:
                        with conn.begin_nested():
                            done.append((job, job.fn(conn), None))
                    except Exception as exc:
                        done.append((job, None, exc))
        except Exception as exc:
            retry = (
                [j for j in jobs if j.attempts < CONFLICT_RETRIES] if is_lock_conflict(exc) else []
            )
            for job in retry:
                job.attempts += 1
            if retry:  # nothing of this group was written: run it again
                self._commit(retry)
                return
            for job in jobs:  # the commit failed: nothing of this group is written
                job.future.set_exception(exc)
            return
        again: list[_Job] = []
        for job, value, error in done:
            if error is not None and is_lock_conflict(error) and job.attempts < CONFLICT_RETRIES:
                # Rolled back to its savepoint after losing a lock race with another
                # transaction (intake locks incidents in its own order): run it again.
                job.attempts += 1
                again.append(job)
            elif error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)
        if again:
            self._commit(again)


class Ledger:
    """Run and step bookkeeping; every method is one transaction."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._writer = GroupWriter(db)
        self._specs: dict[int, tuple[Playbook, dict[str, Any], str]] = {}

    def close(self) -> None:
        self._writer.close()

    def _frozen(self, playbook: Playbook) -> tuple[dict[str, Any], str]:
        """The playbook's stored form and digest, computed once per (immutable) playbook:
        a run is planned in intake's transaction for every new incident (issue 15)."""
        hit = self._specs.get(id(playbook))
        if hit is None or hit[0] is not playbook:
            hit = self._specs[id(playbook)] = (playbook, playbook.freeze(), playbook.digest())
            if len(self._specs) > 1000:  # playbooks reloaded many times: start over
                self._specs = {id(playbook): hit}
        return hit[1], hit[2]

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in a write transaction shared with concurrent bookkeeping (group commit);
        returns once it is committed."""
        return self._writer.run(fn)

    def event(
        self, conn: Connection, seq: int, actor: str, kind: str, data: Mapping[str, Any], key: str
    ) -> None:
        incident_repo.append_event(
            conn, seq, TimelineEvent(self.clock(), actor, kind, data), idempotency_key=key
        )

    def transition(
        self,
        conn: Connection,
        ref: StepRef,
        now: datetime,
        kind: str,
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
        self.event(conn, ref.seq, actor or run_actor(ref.run_id), kind, payload, ref.key(suffix))

    async def timeline(
        self, seq: int, actor: str, kind: str, data: Mapping[str, Any], key: str
    ) -> None:
        """An action's own event (see `ActionContext.record`)."""

        def write() -> None:
            self.write(lambda conn: self.event(conn, seq, actor, kind, data, key))

        await asyncio.to_thread(write)

    # -- runs: planned, cancelled, retried (people's side) --------------------------------

    def plan(
        self,
        conn: Connection,
        incident: Incident,
        playbook: Playbook,
        actor: str,
        trigger: str,
        dry_run: bool,
    ) -> Run | None:
        """Insert a pending run in the caller's transaction; None when the incident already
        has this playbook running."""
        run_id = new_run_id()
        now = self.clock()
        spec, digest = self._frozen(playbook)
        run = Run(
            id=run_id,
            incident_seq=incident.seq,
            playbook=playbook.name,
            playbook_version=str(playbook.version),
            playbook_digest=digest,
            spec=spec,
            status=RunStatus.PENDING,
            dry_run=dry_run,
            trigger=trigger,
            created_by=actor,
            created_at=now,
            generation=0,
            workflow_id=workflow_id_for(run_id, 0),
            steps=tuple(
                RunStep(index=i, name=s.name, action=s.action, status=RunStatus.PENDING)
                for i, s in enumerate(playbook.steps)
            ),
        )
        if not repo.insert_run(conn, run, run.created_at):
            return None
        incident_repo.append_event(
            conn,
            incident.seq,
            TimelineEvent(
                run.created_at,
                actor,
                "run_planned",
                {
                    "run_id": run.id,
                    "playbook": playbook.name,
                    "version": str(playbook.version),
                    "trigger": trigger,
                    "dry_run": dry_run,
                },
            ),
        )
        return run

    def cancel(self, run_id: str, actor: str) -> tuple[Run, list[int]]:
        """Mark an active run and its active steps cancelled; the run as it was, and the
        indexes of its steps that were waiting for approval."""
        now = self.clock()
        with self.db.write() as conn:
            run = repo.get_run(conn, run_id, for_update=True)
            if run.status in TERMINAL_STATUSES:
                raise RunConflict(f"run {run_id} already ended ({run.status})")
            waiting = [s.index for s in run.steps if s.status is RunStatus.WAITING_APPROVAL]
            repo.update_steps(
                conn,
                run_id,
                now,
                from_index=0,
                only_statuses=ACTIVE_RUN_STATUSES,
                status=RunStatus.CANCELLED.value,
                ended_at=now,
                error=f"cancelled by {actor}",
            )
            repo.update_run(
                conn,
                run_id,
                now,
                status=RunStatus.CANCELLED.value,
                ended_at=now,
                error=f"cancelled by {actor}",
            )
            incident_repo.append_event(
                conn,
                run.incident_seq,
                TimelineEvent(now, actor, "run_cancelled", {"run_id": run_id}),
                idempotency_key=f"{run.workflow_id}:cancelled",
            )
        return run, waiting

    def reopen(self, run_id: str, index: int, actor: str) -> str:
        """Make a failed step (and the steps its failure cancelled) pending again as a new
        generation of an ended run; the new generation's workflow id."""
        now = self.clock()
        with self.db.write() as conn:
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
                raise RunConflict(
                    f"{run.playbook!r} already has an active run for this incident"
                ) from exc
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
            incident_repo.append_event(
                conn,
                run.incident_seq,
                TimelineEvent(
                    now,
                    actor,
                    "run_step_retry_requested",
                    {"run_id": run_id, "step": run.steps[index].name, "index": index},
                ),
                idempotency_key=f"{workflow_id}:retry-requested",
            )
        return workflow_id

    # -- the workflow's side (each called as, or inside, a DBOS step) ---------------------

    def load(self, run_id: str, executor_id: str | None, plain: PlainStep) -> LoadedRun | None:
        """The run as the workflow needs it; marks it running (or says it already ended)."""
        now = self.clock()

        def txn(conn: Connection) -> LoadedRun | None:
            try:
                run = repo.get_run(conn, run_id, for_update=True)
            except NotFound:
                return None
            incident = incident_repo.get_incident(conn, run.incident_seq)
            snapshot = incident_snapshot(incident)
            todo = [s.index for s in run.steps if s.status in ACTIVE_RUN_STATUSES]
            if run.status in ACTIVE_RUN_STATUSES:
                repo.update_run(
                    conn,
                    run_id,
                    now,
                    status=RunStatus.RUNNING.value,
                    started_at=run.started_at or now,
                )
                self.event(
                    conn,
                    run.incident_seq,
                    run_actor(run_id),
                    "run_started",
                    {
                        "run_id": run_id,
                        "playbook": run.playbook,
                        "generation": run.generation,
                        "dry_run": run.dry_run,
                        "executor": executor_id,
                    },
                    f"{run.workflow_id}:started",
                )
                if todo:
                    # The first step starts in this transaction (one write fewer, and the
                    # earliest moment the run is known to go ahead).
                    first = Playbook.from_dict(run.spec).steps[todo[0]]
                    if plain(first, snapshot, run.dry_run):
                        ref = StepRef(run_id, run.generation, todo[0], first.name, run.incident_seq)
                        self.mark_started(conn, ref, first, 1, now)
            return LoadedRun(
                status=run.status,
                spec=run.spec,
                incident=snapshot,
                generation=run.generation,
                workflow_id=run.workflow_id,
                dry_run=run.dry_run,
                todo=tuple(todo),
            )

        return self.write(txn)

    def mark_started(
        self, conn: Connection, ref: StepRef, step: Step, attempt: int, now: datetime
    ) -> None:
        self.transition(
            conn,
            ref,
            now,
            "run_step_started",
            f"started{attempt}",
            {"action": step.action, "attempt": attempt},
            step={
                "status": RunStatus.RUNNING.value,
                "attempts": attempt,
                "started_at": func.coalesce(playbook_run_steps.c.started_at, now),
            },
        )

    def mark_sleeping(self, ref: StepRef, seconds: float) -> str:
        """Mark a `wait` step running; return its wake-up time (kept if already set)."""
        now = self.clock()
        with self.db.write() as conn:
            current = repo.get_run(conn, ref.run_id).steps[ref.index]
            if current.status is RunStatus.RUNNING and current.deadline_at is not None:
                return current.deadline_at.isoformat()
            until = now + timedelta(seconds=seconds)
            self.transition(
                conn,
                ref,
                now,
                "run_step_started",
                "started1",
                {"action": "wait", "seconds": seconds},
                step={
                    "status": RunStatus.RUNNING.value,
                    "attempts": 1,
                    "started_at": now,
                    "deadline_at": until,
                },
            )
        return until.isoformat()

    def waiting(self, ref: StepRef, role: str, secs: float, asks: str = "") -> tuple[str, bool]:
        """Mark the step waiting for approval; the event says what approving lets it do.
        Returns the deadline, and whether the step was marked now (not before a crash)."""
        now = self.clock()
        deadline = now + timedelta(seconds=secs)
        with self.db.write() as conn:
            current = repo.get_run(conn, ref.run_id).steps[ref.index]
            if current.status is RunStatus.WAITING_APPROVAL and current.deadline_at is not None:
                # Re-executed after a crash before DBOS checkpointed this step: keep the
                # deadline people were shown, do not start the wait over.
                return current.deadline_at.isoformat(), False
            self.transition(
                conn,
                ref,
                now,
                "run_step_waiting_approval",
                "waiting",
                {"role": role, "deadline": deadline.isoformat(), "asks": asks},
                step={
                    "status": RunStatus.WAITING_APPROVAL.value,
                    "deadline_at": deadline,
                    "started_at": now,
                },
                run=RunStatus.WAITING_APPROVAL,
            )
        return deadline.isoformat(), True

    def decided(self, ref: StepRef, decision: Mapping[str, Any] | None) -> None:
        """Record an approval decision (None: nobody decided in time); the step runs on."""
        now = self.clock()
        if decision is None:
            kind, actor = "run_step_approval_timed_out", run_actor(ref.run_id)
            record: dict[str, Any] = {
                "decision": "timeout",
                "by": None,
                "note": "",
                "at": now.isoformat(),
            }
        else:
            verb = "approved" if decision["decision"] == "approve" else "rejected"
            kind, actor = f"run_step_{verb}", str(decision["by"])
            record = {**decision, "at": now.isoformat()}
        with self.db.write() as conn:
            self.transition(
                conn,
                ref,
                now,
                kind,
                "decided",
                {"note": record.get("note") or ""},
                step={"approval": record, "status": RunStatus.RUNNING.value},
                run=RunStatus.RUNNING,
                actor=actor,
            )

    def attempt_failed(self, ref: StepRef, attempt: int, error: str, wait: float) -> None:
        with self.db.write() as conn:
            self.transition(
                conn,
                ref,
                self.clock(),
                "run_step_attempt_failed",
                f"failed{attempt}",
                {"attempt": attempt, "error": error, "retry_in_seconds": round(wait, 3)},
            )

    def record_finished(
        self, conn: Connection, ref: StepRef, outcome: StepOutcome, now: datetime
    ) -> None:
        """A step's outcome on its row and the timeline (a no-op on a row already ended)."""
        record = outcome.as_record()
        output = record.get("output")
        dry = bool(output and output.get("dry_run"))
        if (
            outcome.reason
            and not dry
            and outcome.status in (RunStatus.SKIPPED, RunStatus.UNVERIFIED)
        ):
            # Why it was skipped or left unverified stays on the row, for people and for
            # the run's attention check (the timeline event has it too).
            output = {**(output or {}), "reason": outcome.reason}
        self.transition(
            conn,
            ref,
            now,
            "run_step_finished",
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

    def step_finished(self, ref: StepRef, outcome: StepOutcome) -> str:
        """Record a step's outcome; the step's status (the row's, if it ended already)."""
        now = self.clock()

        def txn(conn: Connection) -> str:
            self.record_finished(conn, ref, outcome, now)
            return repo.get_step(conn, ref.run_id, ref.index).status.value

        return self.write(txn)

    def run_finished(
        self, run_id: str, gen: int, aborted_at: int | None, abort_status: str | None
    ) -> str:
        now = self.clock()
        return self.write(
            lambda conn: self.finish_run(
                conn, repo.get_run(conn, run_id), gen, aborted_at, abort_status, now
            )
        )

    def finish_run(
        self,
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
        if reasons:
            # Before run_finished, which stays the run's last event.
            self.event(
                conn,
                run.incident_seq,
                run_actor(run_id),
                TimelineKind.RUN_NEEDS_ATTENTION,
                {"run_id": run_id, "playbook": run.playbook, "reasons": reasons},
                f"{run.workflow_id}:attention",
            )
        self.event(
            conn,
            run.incident_seq,
            run_actor(run_id),
            TimelineKind.RUN_FINISHED,
            {"run_id": run_id, "status": status.value, "error": error, "generation": gen},
            f"{run.workflow_id}:finished",
        )
        return status.value

    def begin_attempt(
        self, ref: StepRef, step: Step, attempt: int, last: bool
    ) -> StepOutcome | None:
        """Mark the attempt started, unless it is already; if the step already ended (its
        outcome committed, then a crash before DBOS checkpointed the attempt), that outcome."""
        with self.db.read() as conn:
            row = repo.get_step(conn, ref.run_id, ref.index)
            run_status = repo.get_run_status(conn, ref.run_id) if last else None
            started = repo.event_recorded(conn, ref.key(f"started{attempt}"))
        if row.status in TERMINAL_STATUSES:
            done = run_status is not None and run_status in TERMINAL_STATUSES
            return StepOutcome(
                status=row.status,
                attempts=row.attempts,
                recorded=True,
                run_status=run_status.value if done and run_status is not None else None,
            )
        if started:
            return None  # marked by the transaction before (or before a crash)
        now = self.clock()
        self.write(lambda conn: self.mark_started(conn, ref, step, attempt, now))
        return None

    def end_attempt(
        self,
        ref: StepRef,
        outcome: StepOutcome,
        following: tuple[StepRef, Step] | None,
        last: bool,
    ) -> str | None:
        """One transaction: the step's outcome, the `following` step started (if it goes
        straight to its action), and the run's end (if this was its last step). The run's
        status if it ended."""
        now = self.clock()

        def txn(conn: Connection) -> str | None:
            self.record_finished(conn, ref, outcome, now)
            if following is not None:
                self.mark_started(conn, following[0], following[1], 1, now)
            if last:
                return self.finish_run(
                    conn, repo.get_run(conn, ref.run_id), ref.gen, None, None, now
                )
            return None

        return self.write(txn)
