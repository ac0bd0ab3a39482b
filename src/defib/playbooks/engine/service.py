"""The run service: what people and the incident service do with runs (plan, start, decide,
cancel, retry, read), and the worker's launch of the engine in this process.

A run row is inserted in the transaction that opens the incident (the outbox, see
`ResponseHooks`); `after_commit` enqueues its workflow (workflow id = run id, so enqueuing
twice is a no-op) and a sweeper in every worker enqueues any pending run nobody did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from defib.actions import ActionContext, ActionRegistry, UnknownAction, default_registry
from defib.actions.base import Action
from defib.actions.environment import ActionEnvironment
from defib.config import EngineSettings, Settings
from defib.events import RecordedKind
from defib.model import Incident, InvalidInput, NotFound, parse_incident_id
from defib.playbooks.engine import host, wakeup
from defib.playbooks.engine.ledger import Ledger, RunConflict, incident_snapshot
from defib.playbooks.engine.reconciler import RECONCILER_ACTOR, PassReport, Reconciler
from defib.playbooks.engine.workflow import Workflow, approval_topic
from defib.playbooks.loader import PlaybookSet
from defib.playbooks.runs import Run, RunStatus, RunStep, step_key
from defib.playbooks.spec import Playbook, Role, Step
from defib.store import incidents as incident_repo
from defib.store import runs as repo
from defib.store.batching import BatchingThread
from defib.store.database import Database

log = logging.getLogger(__name__)

_ROLE_RANK = {Role.INGEST: 0, Role.VIEWER: 1, Role.RESPONDER: 2, Role.ADMIN: 3}


def role_allows(role: str, required: str) -> bool:
    """Whether an API role may approve a step that requires `required` (admin always may)."""
    try:
        have = Role(role)
        need = Role(required)
    except ValueError:
        return False
    return have is Role.ADMIN or _ROLE_RANK[have] >= _ROLE_RANK[need]


class PlaybookEngine:
    """Plans, starts and manages runs; executes them when launched as a worker.

    It is also the service's `ResponseHooks`: `plan` inserts the run in the incident's
    transaction, `after_commit` enqueues it.
    """

    def __init__(
        self,
        db: Database,
        *,
        settings: Settings,
        playbooks: PlaybookSet,
        environment: ActionEnvironment,
        actions: ActionRegistry | None = None,
        tuning: EngineSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        dbos_log_level: str = "WARNING",
    ) -> None:
        from defib.clock import utcnow

        self.db = db
        # Everything configurable comes from the caller (the Runtime, the composition root):
        # the engine reads no settings file and no environment variable of its own.
        self.settings = settings
        self.playbooks = playbooks
        self.actions = actions or default_registry()
        self.tuning = tuning or settings.engine
        self.clock: Callable[[], datetime] = clock or utcnow
        # What actions read (settings, database, services, clock, HTTP transport).
        self.environment = environment
        self.system_url = host.dbos_system_url(db.url)
        self.executor_id: str | None = None
        self.host = host.DbosHost(self.system_url, sqlite=db.is_sqlite, log_level=dbos_log_level)
        self.ledger = Ledger(db, self.clock)
        self.workflow = Workflow(
            self.ledger, self.actions, self.clock, lambda: self.executor_id, self.environment
        )
        # Told when a step starts waiting for approval (Slack's Approve/Reject message).
        self.on_waiting = self.workflow.on_waiting
        self.on_attention = self.workflow.on_attention
        self._enqueuer = _Enqueuer(self.enqueue_pending)
        self._listener: wakeup.RunListener | None = None
        self.reconciler = Reconciler(
            db,
            self.host,
            clock=self.clock,
            stuck_margin_seconds=self.tuning.stuck_margin_seconds,
            notify=self._notify_failed,
        )

    # -- planning (inside the caller's transaction) ---------------------------------------

    def plan_run(
        self,
        conn: Connection,
        incident: Incident,
        actor: str,
        *,
        playbook: Playbook | None = None,
        trigger: str = "auto",
        dry_run: bool = False,
    ) -> Run | None:
        """Insert a pending run; None when the incident already has this playbook running."""
        pb = playbook or self.playbooks.for_incident(incident.type, incident.needs_triage)
        return self.ledger.plan(conn, incident, pb, actor, trigger, dry_run)

    # ResponseHooks
    def plan(self, conn: Connection, incident: Incident, actor: str) -> None:
        self.plan_run(conn, incident, actor)

    def after_commit(self, incidents: Sequence[Incident]) -> None:
        # Handed to a thread of its own: the caller is often intake's group commit, and a
        # DBOS enqueue (a write on DBOS's database) per new incident there held every
        # sender of the next group waiting (issue 15).
        self._enqueuer.wake([i.seq for i in incidents])

    def enqueue_pending(self, incident_seqs: Sequence[int]) -> None:
        """Enqueue the pending runs of these incidents now (what `after_commit` hands on)."""
        try:
            with self.db.read() as conn:
                pending = repo.pending_runs(conn, incident_seqs=list(incident_seqs))
            for run_id, workflow_id in pending:
                self.host.enqueue(run_id, workflow_id)
        except Exception:
            # Only an early wake-up: the sweeper enqueues whatever this missed.
            log.warning("could not enqueue new runs now; the sweeper will", exc_info=True)
            return
        if pending:
            self.wake_workers()

    # -- enqueueing -----------------------------------------------------------------------

    @property
    def launched(self) -> bool:
        return self.host.launched

    def enqueue(self, run_id: str, workflow_id: str, dedup: str | None = None) -> None:
        """Enqueue a run's workflow and wake the workers; idempotent (the workflow id is the
        run's)."""
        self.host.enqueue(run_id, workflow_id, dedup)
        self.wake_workers()

    def wake_workers(self) -> None:
        """Have workers start what was just enqueued now, not at their next queue poll: this
        process's own at once, every other through NOTIFY (PostgreSQL; see `wakeup`)."""
        self.host.wake()
        try:
            wakeup.notify(self.db)
        except Exception:
            # Only an early start: the queue poll starts the run anyway.
            log.warning("could not notify workers of new runs", exc_info=True)

    def sweep(self, older_than: float = 1.0) -> int:
        """Enqueue pending runs that have waited longer than `older_than` seconds."""
        cutoff = self.clock() - timedelta(seconds=older_than)
        with self.db.read() as conn:
            pending = repo.pending_runs(conn, created_before=cutoff)
        # Runs still queued behind others are known to DBOS already: enqueueing them again
        # is a no-op that costs a write on DBOS's database each, every sweep.
        known = self._known_workflows([w for _, w in pending])
        pending = [(r, w) for r, w in pending if w not in known]
        for run_id, workflow_id in pending:
            try:
                self.host.enqueue(run_id, workflow_id)
            except Exception:
                log.warning("sweeper could not enqueue run %s", run_id, exc_info=True)
        if pending:
            self.wake_workers()
        return len(pending)

    def _known_workflows(self, workflow_ids: list[str]) -> set[str]:
        """Which of these workflows DBOS has (any status); none if it cannot tell."""
        try:
            return self.host.known_workflows(workflow_ids)
        except Exception:
            log.warning("sweeper could not list workflows; enqueueing all", exc_info=True)
            return set()

    # -- reconciling (see `reconciler`) ---------------------------------------------------

    def reconcile(self) -> PassReport:
        """One reconciler and watchdog pass over the active runs."""
        return self.reconciler.run_pass()

    def _notify_failed(self, run: Run, reason: str) -> None:
        """Tell the incident's channels (the `notify_team` action's) that a run was failed."""
        try:
            action = self.actions.get("notify_team")
        except UnknownAction:
            return
        if not isinstance(action, Action):
            return
        with self.db.read() as conn:
            incident = incident_repo.get_incident(conn, run.incident_seq)
        snapshot = incident_snapshot(incident)
        index = len(run.steps)  # past the last step: the reconciler's own effect

        async def timeline(kind: RecordedKind, data: Mapping[str, Any], key: str) -> None:
            await self.ledger.timeline(run.incident_seq, RECONCILER_ACTOR, kind, data, key)

        ctx = ActionContext(
            run_id=run.id,
            step_index=index,
            step_name="reconciler",
            generation=run.generation,
            attempt=1,
            idempotency_key=f"{step_key(run.id, index, run.generation)}:reconciled",
            incident=snapshot,
            params={
                "message": f"{incident.id}: playbook run {run.id} ({run.playbook}) failed and "
                f"needs a person: {reason}. `defib runs retry {run.id} <step>` resumes it."
            },
            timeout_seconds=60.0,
            timeline=timeline,
            env=self.environment,
        )
        asyncio.run(action.run(ctx))

    def stuck_runs(self) -> list[tuple[Run, datetime]]:
        """Active runs the watchdog considers stuck, with the moment they got stuck."""
        return self.reconciler.stuck_runs()

    def runs_page(
        self,
        *,
        statuses: Sequence[RunStatus] = (),
        stuck: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Run], str | None]:
        """Runs of every incident, newest first; `stuck`: only those the watchdog flags."""
        if stuck:
            found = [r for r, _ in self.stuck_runs() if not statuses or r.status in statuses]
            found.sort(key=lambda r: r.id, reverse=True)
            if cursor is not None:
                found = [r for r in found if r.id < cursor]
            page = found[:limit]
            more = len(found) > limit
        else:
            with self.db.read() as conn:
                rows = repo.runs_page(conn, statuses=statuses, before_id=cursor, limit=limit + 1)
            page, more = rows[:limit], len(rows) > limit
        return page, (page[-1].id if more and page else None)

    # -- reads ----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as conn:
            return repo.get_run(conn, run_id)

    def list_runs(self, incident_id: str) -> list[Run]:
        seq = parse_incident_id(incident_id)
        with self.db.read() as conn:
            incident_repo.get_incident(conn, seq)
            return repo.list_runs(conn, seq)

    # -- people acting on runs ------------------------------------------------------------

    def start_run(
        self, incident_id: str, actor: str, *, playbook: str | None = None, dry_run: bool = False
    ) -> Run:
        """A manual (or dry) run; RunConflict when this playbook already runs for the incident."""
        seq = parse_incident_id(incident_id)
        if playbook is not None:
            try:
                pb: Playbook | None = self.playbooks.get(playbook)
            except KeyError:
                known = ", ".join(sorted(p.name for p in self.playbooks))
                raise InvalidInput(f"playbook: no playbook {playbook!r} (known: {known})") from None
        else:
            pb = None

        def plan(conn: Connection) -> Run:
            incident = incident_repo.get_incident(conn, seq, for_update=True)
            run = self.plan_run(
                conn, incident, actor, playbook=pb, trigger="manual", dry_run=dry_run
            )
            if run is None:
                name = (
                    pb or self.playbooks.for_incident(incident.type, incident.needs_triage)
                ).name
                active = repo.find_active(conn, seq, name)
                which = f" ({active.id})" if active is not None else ""
                raise RunConflict(f"{incident.id} already has an active {name!r} run{which}")
            return run

        # Retried as a deadlock loser (issue 25: concurrent starts answered 500 on PostgreSQL).
        run = self.db.transact(plan)
        self.enqueue(run.id, run.workflow_id)
        return self.get_run(run.id)

    def _waiting_step(self, run: Run, index: int) -> tuple[RunStep, Step]:
        if not 0 <= index < len(run.steps):
            raise NotFound(f"run {run.id} has no step {index}")
        step = run.steps[index]
        if step.status is not RunStatus.WAITING_APPROVAL:
            raise RunConflict(
                f"step {index} of run {run.id} is {step.status}, not waiting_approval"
            )
        return step, Playbook.from_dict(run.spec).steps[index]

    def required_role(self, run_id: str, index: int) -> str:
        run = self.get_run(run_id)
        _, spec = self._waiting_step(run, index)
        return spec.approval.role.value

    def decide(
        self, run_id: str, index: int, *, approve: bool, actor: str, role: str, note: str | None
    ) -> Run:
        """Approve or reject a step waiting for approval; the workflow records the decision."""
        run = self.get_run(run_id)
        # Role before state (issue 11): who may not decide learns nothing about the run's
        # progress from a 409, and a 403 stays a 403 whatever the step is doing.
        if not 0 <= index < len(run.steps):
            raise NotFound(f"run {run.id} has no step {index}")
        needed = Playbook.from_dict(run.spec).steps[index].approval.role.value
        if not role_allows(role, needed):
            raise PermissionError(f"step {index} needs role {needed} (or admin) to decide")
        self._waiting_step(run, index)
        message = {
            "decision": "approve" if approve else "reject",
            "by": actor,
            "note": note or "",
        }
        key = f"{step_key(run.id, index, run.generation)}:decision"
        self.host.send(run.workflow_id, message, approval_topic(index, run.generation), key)
        return run

    def cancel(self, run_id: str, actor: str) -> Run:
        run, waiting = self.ledger.cancel(run_id, actor)
        try:
            self.host.cancel(run.workflow_id)
            for index in waiting:  # wake a recv so the workflow notices now, not at its deadline
                self.host.send(
                    run.workflow_id,
                    {"decision": "cancel", "by": actor, "note": ""},
                    approval_topic(index, run.generation),
                    f"{step_key(run_id, index, run.generation)}:cancel",
                )
        except Exception:
            # Not yet known to DBOS (still pending): the workflow sees the status and stops.
            log.info("cancel of run %s: no workflow to cancel yet", run_id, exc_info=True)
        return self.get_run(run_id)

    def retry_step(self, run_id: str, index: int, actor: str) -> Run:
        """Run a failed step again (and the steps its failure cancelled) as a new generation."""
        workflow_id = self.ledger.reopen(run_id, index, actor)
        self.enqueue(run_id, workflow_id)
        return self.get_run(run_id)

    # -- the worker side ------------------------------------------------------------------

    def launch(self, executor_id: str) -> None:
        """Start DBOS in this process: it recovers this executor's runs and serves the queue."""
        self.executor_id = executor_id
        self.host.launch(
            executor_id,
            self.workflow.execute,
            poll_seconds=self.tuning.poll_seconds,
            concurrency=self.tuning.concurrency,
        )
        if not self.db.is_sqlite:
            self._listener = wakeup.RunListener(self.db.url, self.host.wake).start()
        for error in self.playbooks.validate_actions(self.actions.names()):
            log.warning("playbook problem: %s", error)

    def shutdown(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        self.host.shutdown()

    def close(self) -> None:
        self._enqueuer.close()
        self.shutdown()
        self.ledger.close()
        self.host.close()

    # -- for tests and tools: one attempt, as the workflow runs it ------------------------

    async def step_attempt(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await self.workflow.step_attempt(*args, **kwargs)


class _Enqueuer(BatchingThread[Sequence[int]]):
    """Enqueues new incidents' runs off the committing thread, many incidents at a time."""

    thread_name = "defib-run-enqueuer"

    def __init__(self, enqueue: Callable[[Sequence[int]], None]) -> None:
        super().__init__(max_size=500)
        self._enqueue = enqueue

    def wake(self, incident_seqs: Sequence[int]) -> None:
        if incident_seqs:
            self._put(incident_seqs)

    def _job_size(self, job: Sequence[int]) -> int:
        return len(job)

    def _commit(self, jobs: list[Sequence[int]]) -> None:
        self._enqueue([seq for job in jobs for seq in job])
