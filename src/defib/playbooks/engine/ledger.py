"""The ledger: the engine's transactions over run state, as people and the workflow cause them.

People plan, cancel and retry runs; the workflow takes a run up, starts, waits, decides and
finishes steps. Each of those is one transaction here, often group-committed with others
(`group_writer`), and every row it changes and event it writes goes through `run_state`,
the one module that writes run state. The workflow's side runs inside DBOS steps, so a
replay after a crash skips what was checkpointed; one re-executed (in flight at the
crash) is harmless because every row update is conditional and every event keyed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection

from defib.clock import Clock
from defib.events import RecordedKind, TimelineKind
from defib.model import Incident, NotFound
from defib.playbooks.engine import run_state
from defib.playbooks.engine.group_writer import GroupWriter
from defib.playbooks.engine.outcome import LoadedRun, StepOutcome
from defib.playbooks.engine.run_state import RunConflict, StepRef
from defib.playbooks.runs import (
    ACTIVE_RUN_STATUSES,
    TERMINAL_STATUSES,
    Run,
    RunStatus,
    RunStep,
    new_run_id,
    run_actor,
    workflow_id_for,
)
from defib.playbooks.spec import Playbook, Step
from defib.store import incidents as incident_repo
from defib.store import runs as repo
from defib.store.database import Database

__all__ = ["Ledger", "PlainStep", "RunConflict", "StepRef", "incident_snapshot"]

T = TypeVar("T")
# Group writers on PostgreSQL (see `Ledger.write`).
PG_WRITERS = 4
# Whether a step goes straight to its action (see `Workflow.plain`).
PlainStep = Callable[[Step, Mapping[str, Any], bool], bool]


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


class Ledger:
    """Run and step bookkeeping; every method is one transaction."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        # SQLite has one write lock: one writer. PostgreSQL takes concurrent transactions,
        # and one writer thread was where every run waited (its round trips in a row).
        self._writers = [GroupWriter(db) for _ in range(1 if db.is_sqlite else PG_WRITERS)]
        self._next = itertools.count()
        self._specs: dict[int, tuple[Playbook, dict[str, Any], str]] = {}

    def close(self) -> None:
        for writer in self._writers:
            writer.close()

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
        return self._writers[next(self._next) % len(self._writers)].run(fn)

    async def timeline(
        self, seq: int, actor: str, kind: RecordedKind, data: Mapping[str, Any], key: str
    ) -> None:
        """An action's own event (see `ActionContext.record`)."""

        def write() -> None:
            self.write(
                lambda conn: run_state.event(conn, seq, self.clock(), actor, kind, data, key)
            )

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
        return run if run_state.plan(conn, run, actor) else None

    def cancel(self, run_id: str, actor: str) -> tuple[Run, list[int]]:
        """Mark an active run and its active steps cancelled; the run as it was, and the
        indexes of its steps that were waiting for approval."""
        now = self.clock()
        with self.db.write() as conn:
            return run_state.cancel(conn, run_id, now, actor)

    def reopen(self, run_id: str, index: int, actor: str) -> str:
        """Make a failed step (and the steps its failure cancelled) pending again as a new
        generation of an ended run; the new generation's workflow id."""
        now = self.clock()
        with self.db.write() as conn:
            return run_state.reopen(conn, run_id, index, now, actor)

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
                run_state.mark_running(conn, run, now, executor_id)
                if todo:
                    # The first step starts in this transaction (one write fewer, and the
                    # earliest moment the run is known to go ahead).
                    first = Playbook.from_dict(run.spec).steps[todo[0]]
                    if plain(first, snapshot, run.dry_run):
                        ref = StepRef(run_id, run.generation, todo[0], first.name, run.incident_seq)
                        run_state.mark_started(conn, ref, first, 1, now)
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

    def mark_sleeping(self, ref: StepRef, seconds: float) -> str:
        """Mark a `wait` step running; return its wake-up time (kept if already set)."""
        now = self.clock()
        with self.db.write() as conn:
            current = repo.get_run(conn, ref.run_id).steps[ref.index]
            if current.status is RunStatus.RUNNING and current.deadline_at is not None:
                return current.deadline_at.isoformat()
            until = now + timedelta(seconds=seconds)
            run_state.transition(
                conn,
                ref,
                now,
                TimelineKind.STEP_STARTED,
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
            run_state.transition(
                conn,
                ref,
                now,
                TimelineKind.STEP_WAITING_APPROVAL,
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
            kind, actor = TimelineKind.STEP_APPROVAL_TIMED_OUT, run_actor(ref.run_id)
            record: dict[str, Any] = {
                "decision": "timeout",
                "by": None,
                "note": "",
                "at": now.isoformat(),
            }
        else:
            approved = decision["decision"] == "approve"
            kind = TimelineKind.STEP_APPROVED if approved else TimelineKind.STEP_REJECTED
            actor = str(decision["by"])
            record = {**decision, "at": now.isoformat()}
        with self.db.write() as conn:
            run_state.transition(
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
            run_state.transition(
                conn,
                ref,
                self.clock(),
                TimelineKind.STEP_ATTEMPT_FAILED,
                f"failed{attempt}",
                {"attempt": attempt, "error": error, "retry_in_seconds": round(wait, 3)},
            )

    def step_finished(self, ref: StepRef, outcome: StepOutcome) -> str:
        """Record a step's outcome; the step's status (the row's, if it ended already)."""
        now = self.clock()

        def txn(conn: Connection) -> str:
            run_state.record_finished(conn, ref, outcome, now)
            return repo.get_step(conn, ref.run_id, ref.index).status.value

        return self.write(txn)

    def run_finished(
        self, run_id: str, gen: int, aborted_at: int | None, abort_status: str | None
    ) -> str:
        now = self.clock()
        return self.write(
            lambda conn: run_state.finish(
                conn, repo.get_run(conn, run_id), gen, aborted_at, abort_status, now
            )
        )

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
        self.write(lambda conn: run_state.mark_started(conn, ref, step, attempt, now))
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
            run_state.record_finished(conn, ref, outcome, now)
            if following is not None:
                run_state.mark_started(conn, following[0], following[1], 1, now)
            if last:
                return run_state.finish(
                    conn, repo.get_run(conn, ref.run_id), ref.gen, None, None, now
                )
            return None

        return self.write(txn)
