"""Durable playbook runs on DBOS Transact: one generic workflow executes a run's frozen playbook.

Where state lives:

* `playbook_runs` / `playbook_run_steps` (our tables) are what people read: status, attempts,
  times, errors. They are written by DBOS steps, so a replay after a crash skips writes that
  already happened, and every timeline event carries an idempotency key, so a write that
  is re-executed (the step was in flight at the crash) lands once.
* DBOS's system tables (the `dbos` schema on PostgreSQL, a sibling SQLite file embedded)
  hold the checkpoints: which steps completed and with what output, messages (approvals),
  sleeps (their wake-up time is recorded once, so deadlines survive restarts).

A run row is inserted in the transaction that opens the incident (the outbox, see
`ResponseHooks`); `after_commit` enqueues its workflow (workflow id = run id, so enqueuing
twice is a no-op) and a sweeper in every worker enqueues any pending run nobody did.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event, func
from sqlalchemy.engine import make_url

from defib.actions import (
    ActionContext,
    ActionError,
    ActionRegistry,
    DurableSleep,
    Outcome,
    UnknownAction,
    default_registry,
)
from defib.actions.base import Action
from defib.batching import BatchingThread
from defib.config import Settings
from defib.model import (
    DomainError,
    Incident,
    InvalidInput,
    NotFound,
    TimelineEvent,
    parse_incident_id,
)
from defib.playbooks.loader import PlaybookSet
from defib.playbooks.runs import (
    ACTIVE_RUN_STATUSES,
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
from defib.playbooks.spec import OnFailure, OnTimeout, Playbook, Role, Step
from defib.playbooks.waiting import WaitingListener, WaitingStep, announce
from defib.store import incidents as incident_repo
from defib.store import runs as repo
from defib.store.database import Database
from defib.store.tables import playbook_run_steps

if TYPE_CHECKING:
    from dbos import EnqueueOptions

log = logging.getLogger(__name__)

# DBOS's application version. By default DBOS hashes the workflow source and a changed
# hash strands pending runs; we pin it and bump it only when the workflow's sequence of
# DBOS operations changes incompatibly (then old runs must drain on an old worker).
ENGINE_VERSION = "defib-engine-2"
WORKFLOW_NAME = "defib.run_playbook"
QUEUE_NAME = "defib-runs"
DBOS_APP_NAME = "defib"
SYSTEM_DB_POOL_SIZE = 20

_ROLE_RANK = {Role.INGEST: 0, Role.VIEWER: 1, Role.RESPONDER: 2, Role.ADMIN: 3}


class RunConflict(DomainError):
    """The run cannot do that now (an active run exists, the step is not waiting, ...)."""

    code = "conflict"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class EngineTuning:
    """Timings; the environment overrides them (tests and the benchmark shorten them)."""

    poll_seconds: float = 0.05
    sweep_seconds: float = 2.0
    heartbeat_seconds: float = 2.0
    heartbeat_ttl_seconds: float = 15.0
    worker_concurrency: int = 50

    @classmethod
    def from_env(cls) -> EngineTuning:
        d = cls()
        return cls(
            poll_seconds=_env_float("DEFIB_ENGINE_POLL_SECONDS", d.poll_seconds),
            sweep_seconds=_env_float("DEFIB_ENGINE_SWEEP_SECONDS", d.sweep_seconds),
            heartbeat_seconds=_env_float("DEFIB_ENGINE_HEARTBEAT_SECONDS", d.heartbeat_seconds),
            heartbeat_ttl_seconds=_env_float(
                "DEFIB_ENGINE_HEARTBEAT_TTL_SECONDS", d.heartbeat_ttl_seconds
            ),
            worker_concurrency=int(
                _env_float("DEFIB_ENGINE_CONCURRENCY", float(d.worker_concurrency))
            ),
        )


def dbos_system_url(app_url: str) -> str:
    """DBOS's system database: a sibling SQLite file, or the same PostgreSQL (schema `dbos`).

    On SQLite a sibling file keeps DBOS's checkpoint writes off the incident database's
    single write lock; on PostgreSQL one database keeps backups and access in one place.
    """
    url = make_url(app_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "defib.db")
        return f"sqlite:///{path.with_name(path.stem + '.dbos' + (path.suffix or '.db'))}"
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_system_engine(url: str) -> Engine:
    """DBOS's SQLite engine, in WAL mode (readers never block the writer) and durable."""
    # DBOS's own engines pool 20 connections; SQLAlchemy's default of 5 (+10 overflow,
    # closed on check-in) made a busy worker open and configure a connection per checkpoint.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=SYSTEM_DB_POOL_SIZE,
        max_overflow=SYSTEM_DB_POOL_SIZE,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA synchronous=FULL")

    return engine


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
    }


def approval_topic(index: int, generation: int) -> str:
    return f"approval:{index}:{generation}"


def retry_delay(step: Step, run_id: str, index: int, attempt: int) -> float:
    """Backoff before retry `attempt`; jitter seeded by the step so a replay computes the same."""
    return step.retries.delay(attempt, random.Random(f"{run_id}:{index}:{attempt}"))


# DBOS.sleep returns at once, recording nothing, for a duration <= 0. A duration computed
# from the clock (a deadline minus now) is positive on the first execution and may be
# negative on a replay after downtime: the replay would then make one DBOS call fewer than
# the recording and diverge (DBOSUnexpectedStepError, the run stuck). Every durable wait
# therefore asks for at least this much, so it is always recorded and always replayed.
MIN_DURABLE_WAIT_SECONDS = 0.001


def replay_safe_seconds(seconds: float) -> float:
    """A wait duration DBOS records whatever the clock says (see MIN_DURABLE_WAIT_SECONDS)."""
    return max(seconds, MIN_DURABLE_WAIT_SECONDS)


def role_allows(role: str, required: str) -> bool:
    """Whether an API role may approve a step that requires `required` (admin always may)."""
    try:
        have = Role(role)
        need = Role(required)
    except ValueError:
        return False
    return have is Role.ADMIN or _ROLE_RANK[have] >= _ROLE_RANK[need]


T = TypeVar("T")

# Bounds one group transaction (each job is a few statements).
MAX_GROUP_JOBS = 32
# After a commit with more work already waiting, leave the write lock free this long: other
# writers (intake, the API, heartbeats) wait for it in SQLite's busy handler, which only
# retries now and then, and would starve if the next group began at once.
GROUP_PAUSE_SECONDS = 0.002


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    future: Future[Any] = field(default_factory=Future)


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
            with self.db.write() as conn:
                for job in jobs:
                    try:
                        with conn.begin_nested():
                            done.append((job, job.fn(conn), None))
                    except Exception as exc:
                        done.append((job, None, exc))
        except Exception as exc:
            for job in jobs:  # the commit failed: nothing of this group is written
                job.future.set_exception(exc)
            return
        for job, value, error in done:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)


# The engine the workflow functions below use; set when a worker launches in this process.
class _Slot:
    """The engine launched in this process (DBOS is a per-process singleton too)."""

    engine: PlaybookEngine | None = None


_slot = _Slot()


class PlaybookEngine:
    """Plans, starts and manages runs; executes them when launched as a worker.

    It is also the service's `ResponseHooks`: `plan` inserts the run in the incident's
    transaction, `after_commit` enqueues it.
    """

    def __init__(
        self,
        db: Database,
        *,
        playbooks: PlaybookSet | None = None,
        actions: ActionRegistry | None = None,
        tuning: EngineTuning | None = None,
        clock: Any = None,
        settings: Settings | None = None,
    ) -> None:
        from defib.service import utcnow

        self.db = db
        # What actions read (systems, notifications); None: they load it from the environment.
        self.settings = settings
        self.playbooks = playbooks or PlaybookSet.load(os.environ.get("DEFIB_PLAYBOOKS_DIR"))
        self.actions = actions or default_registry()
        self.tuning = tuning or EngineTuning.from_env()
        self.clock = clock or utcnow
        self.system_url = dbos_system_url(db.url)
        self.executor_id: str | None = None
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._writer = GroupWriter(db)
        # Told when a step starts waiting for approval (Slack's Approve/Reject message).
        self.on_waiting: list[WaitingListener] = []

    # -- planning (inside the caller's transaction) ---------------------------------------

    def _new_run(
        self, incident: Incident, playbook: Playbook, actor: str, trigger: str, dry_run: bool
    ) -> Run:
        run_id = new_run_id()
        now = self.clock()
        return Run(
            id=run_id,
            incident_seq=incident.seq,
            playbook=playbook.name,
            playbook_version=str(playbook.version),
            playbook_digest=playbook.digest(),
            spec=playbook.freeze(),
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
        pb = playbook or self.playbooks.for_type(incident.type)
        run = self._new_run(incident, pb, actor, trigger, dry_run)
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
                    "playbook": pb.name,
                    "version": str(pb.version),
                    "trigger": trigger,
                    "dry_run": dry_run,
                },
            ),
        )
        return run

    # ResponseHooks
    def plan(self, conn: Connection, incident: Incident, actor: str) -> None:
        self.plan_run(conn, incident, actor)

    def after_commit(self, incidents: Sequence[Incident]) -> None:
        try:
            with self.db.read() as conn:
                pending = repo.pending_runs(conn, incident_seqs=[i.seq for i in incidents])
            for run_id, workflow_id in pending:
                self.enqueue(run_id, workflow_id)
        except Exception:
            # Only an early wake-up: the sweeper enqueues whatever this missed.
            log.warning("could not enqueue new runs now; the sweeper will", exc_info=True)

    # -- enqueueing -----------------------------------------------------------------------

    @property
    def launched(self) -> bool:
        return _slot.engine is self

    def client(self) -> Any:
        """A DBOSClient on the system database (migrated first), for processes without a worker."""
        with self._client_lock:
            if self._client is None:
                from dbos import DBOS, DBOSClient

                if self.db.is_sqlite:
                    engine = sqlite_system_engine(self.system_url)
                    # The client never migrates; create DBOS's tables if no worker has yet.
                    DBOS.migrate(self.system_url)
                    self._client = DBOSClient(system_database_engine=engine)
                else:
                    DBOS.migrate(self.system_url)
                    self._client = DBOSClient(system_database_url=self.system_url)
            return self._client

    def _options(self, workflow_id: str, dedup: str | None) -> EnqueueOptions:
        from dbos import EnqueueOptions

        options = EnqueueOptions(
            queue_name=QUEUE_NAME,
            workflow_name=WORKFLOW_NAME,
            workflow_id=workflow_id,
            app_version=ENGINE_VERSION,
        )
        if dedup is not None:
            options["deduplication_id"] = dedup
            options["duplication_policy"] = "return-existing"
        return options

    def enqueue(self, run_id: str, workflow_id: str, dedup: str | None = None) -> None:
        """Enqueue a run's workflow; idempotent (the workflow id is the run's)."""
        options = self._options(workflow_id, dedup)
        if self.launched:
            from dbos import DBOS

            DBOS.enqueue_workflow_with_options(options, run_id)
        else:
            self.client().enqueue(options, run_id)

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
                self.enqueue(run_id, workflow_id)
            except Exception:
                log.warning("sweeper could not enqueue run %s", run_id, exc_info=True)
        return len(pending)

    def _known_workflows(self, workflow_ids: list[str]) -> set[str]:
        """Which of these workflows DBOS has (any status); none if it cannot tell."""
        if not workflow_ids:
            return set()
        try:
            if self.launched:
                from dbos import DBOS

                found = DBOS.list_workflows(
                    workflow_ids=workflow_ids, load_input=False, load_output=False
                )
            else:
                found = self.client().list_workflows(
                    workflow_ids=workflow_ids, load_input=False, load_output=False
                )
        except Exception:
            log.warning("sweeper could not list workflows; enqueueing all", exc_info=True)
            return set()
        return {str(status.workflow_id) for status in found}

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
        with self.db.write() as conn:
            incident = incident_repo.get_incident(conn, seq, for_update=True)
            run = self.plan_run(
                conn, incident, actor, playbook=pb, trigger="manual", dry_run=dry_run
            )
            if run is None:
                name = (pb or self.playbooks.for_type(incident.type)).name
                active = repo.find_active(conn, seq, name)
                which = f" ({active.id})" if active is not None else ""
                raise RunConflict(f"{incident.id} already has an active {name!r} run{which}")
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
        _, spec = self._waiting_step(run, index)
        if not role_allows(role, spec.approval.role.value):
            raise PermissionError(
                f"step {index} needs role {spec.approval.role.value} (or admin) to decide"
            )
        message = {
            "decision": "approve" if approve else "reject",
            "by": actor,
            "note": note or "",
        }
        key = f"{step_key(run.id, index, run.generation)}:decision"
        self._send(run.workflow_id, message, approval_topic(index, run.generation), key)
        return run

    def _send(self, workflow_id: str, message: Any, topic: str, key: str) -> None:
        if self.launched:
            from dbos import DBOS

            DBOS.send(workflow_id, message, topic, idempotency_key=key)
        else:
            self.client().send(workflow_id, message, topic, idempotency_key=key)

    def cancel(self, run_id: str, actor: str) -> Run:
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
        try:
            if self.launched:
                from dbos import DBOS

                DBOS.cancel_workflow(run.workflow_id)
            else:
                self.client().cancel_workflow(run.workflow_id)
            for index in waiting:  # wake a recv so the workflow notices now, not at its deadline
                self._send(
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
        self.enqueue(run_id, workflow_id)
        return self.get_run(run_id)

    # -- the worker side ------------------------------------------------------------------

    def launch(self, executor_id: str) -> None:
        """Start DBOS in this process: it recovers this executor's runs and serves the queue."""
        _off_event_loop(lambda: self._launch(executor_id))

    def _launch(self, executor_id: str) -> None:
        from dbos import DBOS

        if _slot.engine is not None:
            raise RuntimeError("a playbook engine is already launched in this process")
        config: dict[str, Any] = {
            "name": DBOS_APP_NAME,
            "system_database_url": self.system_url,
            "application_version": ENGINE_VERSION,
            "executor_id": executor_id,
            "log_level": os.environ.get("DEFIB_DBOS_LOG_LEVEL", "WARNING"),
            "notification_listener_polling_interval_sec": self.tuning.poll_seconds,
        }
        if self.db.is_sqlite:
            config["system_database_engine"] = sqlite_system_engine(self.system_url)
        _slot.engine = self
        self.executor_id = executor_id
        try:
            DBOS(config=config)  # type: ignore[arg-type]
            DBOS.launch()
            DBOS.register_queue(
                QUEUE_NAME,
                worker_concurrency=self.tuning.worker_concurrency,
                polling_interval_sec=self.tuning.poll_seconds,
                on_conflict="always_update",
            )
        except BaseException:
            _slot.engine = None
            DBOS.destroy()
            raise
        for error in self.playbooks.validate_actions(self.actions.names()):
            log.warning("playbook problem: %s", error)

    def shutdown(self) -> None:
        _off_event_loop(self._shutdown)

    def _shutdown(self) -> None:
        if _slot.engine is self:
            from dbos import DBOS

            DBOS.destroy(workflow_completion_timeout_sec=0)
            _slot.engine = None

    def close(self) -> None:
        self.shutdown()
        self._writer.close()
        if self._client is not None:
            self._client.destroy()
            self._client = None

    # -- bookkeeping steps (sync, run by DBOS in a thread; each is checkpointed) ---------

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in a write transaction shared with concurrent bookkeeping (group commit);
        returns once it is committed."""
        return self._writer.run(fn)

    def _event(
        self, conn: Connection, seq: int, actor: str, kind: str, data: Mapping[str, Any], key: str
    ) -> None:
        incident_repo.append_event(
            conn, seq, TimelineEvent(self.clock(), actor, kind, data), idempotency_key=key
        )

    def step_load(self, run_id: str) -> dict[str, Any] | None:
        """The run as the workflow needs it; marks it running (or says it already ended)."""
        now = self.clock()

        def txn(conn: Connection) -> dict[str, Any] | None:
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
                self._event(
                    conn,
                    run.incident_seq,
                    run_actor(run_id),
                    "run_started",
                    {
                        "run_id": run_id,
                        "playbook": run.playbook,
                        "generation": run.generation,
                        "dry_run": run.dry_run,
                        "executor": self.executor_id,
                    },
                    f"{run.workflow_id}:started",
                )
                if todo:
                    # The first step starts in this transaction (one write fewer, and the
                    # earliest moment the run is known to go ahead).
                    first = Playbook.from_dict(run.spec).steps[todo[0]]
                    if self._plain(first, snapshot, run.dry_run):
                        self._mark_started(
                            conn, run_id, run.generation, todo[0], first, 1, snapshot, now
                        )
            return {
                "status": run.status.value,
                "spec": run.spec,
                "incident": snapshot,
                "generation": run.generation,
                "workflow_id": run.workflow_id,
                "dry_run": run.dry_run,
                "todo": todo,
            }

        return self._write(txn)

    def step_waiting(
        self, run_id: str, gen: int, index: int, name: str, role: str, secs: float, asks: str = ""
    ) -> str:
        """Mark the step waiting for approval; the event says what approving lets it do."""
        now = self.clock()
        deadline = now + timedelta(seconds=secs)
        with self.db.write() as conn:
            run = repo.get_run(conn, run_id)
            current = run.steps[index]
            if current.status is RunStatus.WAITING_APPROVAL and current.deadline_at is not None:
                # Re-executed after a crash before DBOS checkpointed this step: keep the
                # deadline people were shown, do not start the wait over.
                return current.deadline_at.isoformat()
            repo.update_step(
                conn,
                run_id,
                index,
                now,
                only_statuses=ACTIVE_RUN_STATUSES,
                status=RunStatus.WAITING_APPROVAL.value,
                deadline_at=deadline,
                started_at=now,
            )
            repo.update_run(conn, run_id, now, status=RunStatus.WAITING_APPROVAL.value)
            self._event(
                conn,
                run.incident_seq,
                run_actor(run_id),
                "run_step_waiting_approval",
                {
                    "run_id": run_id,
                    "step": name,
                    "index": index,
                    "role": role,
                    "deadline": deadline.isoformat(),
                    "asks": asks,
                },
                f"{step_key(run_id, index, gen)}:waiting",
            )
        announce(
            self.on_waiting,
            WaitingStep(run_id, index, name, run.incident_seq, role, deadline.isoformat(), asks),
        )
        return deadline.isoformat()

    def step_decided(
        self, run_id: str, gen: int, index: int, name: str, decision: Mapping[str, Any] | None
    ) -> None:
        now = self.clock()
        with self.db.write() as conn:
            run = repo.get_run(conn, run_id)
            if decision is None:
                kind, actor, record = (
                    "run_step_approval_timed_out",
                    run_actor(run_id),
                    {"decision": "timeout", "by": None, "note": "", "at": now.isoformat()},
                )
            else:
                verb = "approved" if decision["decision"] == "approve" else "rejected"
                kind, actor = f"run_step_{verb}", str(decision["by"])
                record = {**decision, "at": now.isoformat()}
            repo.update_step(
                conn,
                run_id,
                index,
                now,
                only_statuses=ACTIVE_RUN_STATUSES,
                approval=record,
                status=RunStatus.RUNNING.value,
            )
            repo.update_run(conn, run_id, now, status=RunStatus.RUNNING.value)
            self._event(
                conn,
                run.incident_seq,
                actor,
                kind,
                {"run_id": run_id, "step": name, "index": index, "note": record.get("note") or ""},
                f"{step_key(run_id, index, gen)}:decided",
            )

    def step_attempt_failed(
        self, run_id: str, gen: int, index: int, name: str, attempt: int, error: str, wait: float
    ) -> None:
        with self.db.write() as conn:
            run = repo.get_run(conn, run_id)
            self._event(
                conn,
                run.incident_seq,
                run_actor(run_id),
                "run_step_attempt_failed",
                {
                    "run_id": run_id,
                    "step": name,
                    "index": index,
                    "attempt": attempt,
                    "error": error,
                    "retry_in_seconds": round(wait, 3),
                },
                f"{step_key(run_id, index, gen)}:failed{attempt}",
            )

    def _record_finished(
        self,
        conn: Connection,
        run_id: str,
        seq: int,
        gen: int,
        index: int,
        name: str,
        outcome: Mapping[str, Any],
        now: datetime,
    ) -> None:
        """A step's outcome on its row and the timeline (a no-op on a row already ended)."""
        repo.update_step(
            conn,
            run_id,
            index,
            now,
            only_statuses=ACTIVE_RUN_STATUSES,
            status=outcome["status"],
            attempts=outcome.get("attempts", 0),
            ended_at=now,
            error=outcome.get("error"),
            output=outcome.get("output"),
        )
        repo.move_run(
            conn, run_id, now, from_status=RunStatus.WAITING_APPROVAL, to=RunStatus.RUNNING
        )
        self._event(
            conn,
            seq,
            run_actor(run_id),
            "run_step_finished",
            {"run_id": run_id, "step": name, "index": index, **outcome},
            f"{step_key(run_id, index, gen)}:finished",
        )

    def step_finished(
        self, run_id: str, gen: int, index: int, name: str, outcome: dict[str, Any]
    ) -> str:
        """Record a step's outcome; return the step's status (the row's, if it ended already)."""
        now = self.clock()

        def txn(conn: Connection) -> str:
            run = repo.get_run(conn, run_id)
            self._record_finished(conn, run_id, run.incident_seq, gen, index, name, outcome, now)
            return repo.get_step(conn, run_id, index).status.value

        return self._write(txn)

    def step_run_finished(
        self, run_id: str, gen: int, aborted_at: int | None, abort_status: str | None
    ) -> str:
        now = self.clock()
        return self._write(
            lambda conn: self._finish_run(
                conn, repo.get_run(conn, run_id), gen, aborted_at, abort_status, now
            )
        )

    def _finish_run(
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
            bad = [s for s in run.steps if s.status in RETRYABLE_STEP_STATUSES]
            status = RunStatus.FAILED if bad else RunStatus.SUCCEEDED
            if bad:
                error = f"{len(bad)} step(s) failed: " + ", ".join(s.name for s in bad)
        repo.update_run(conn, run_id, now, status=status.value, ended_at=now, error=error)
        self._event(
            conn,
            run.incident_seq,
            run_actor(run_id),
            "run_finished",
            {"run_id": run_id, "status": status.value, "error": error, "generation": gen},
            f"{run.workflow_id}:finished",
        )
        return status.value

    async def _timeline(
        self, seq: int, actor: str, kind: str, data: Mapping[str, Any], key: str
    ) -> None:
        def write() -> None:
            self._write(lambda conn: self._event(conn, seq, actor, kind, data, key))

        await asyncio.to_thread(write)

    def _context(
        self,
        run_id: str,
        gen: int,
        index: int,
        step: Step,
        attempt: int,
        incident: Mapping[str, Any],
    ) -> ActionContext:
        seq = int(incident["seq"])

        async def timeline(kind: str, data: Mapping[str, Any], key: str) -> None:
            await self._timeline(seq, run_actor(run_id), kind, data, key)

        return ActionContext(
            run_id=run_id,
            step_index=index,
            step_name=step.name,
            generation=gen,
            attempt=attempt,
            idempotency_key=step_key(run_id, index, gen),
            incident=incident,
            params=step.params,
            timeout_seconds=step.timeout_seconds,
            timeline=timeline,
        )

    def _plain(self, step: Step, incident: Mapping[str, Any], dry_run: bool) -> bool:
        """Whether `step` goes straight to its action (no `when` skip, approval, dry run or
        durable sleep): then the transaction before it may mark it started."""
        if dry_run or step.approval.required or not step.applies(incident):
            return False
        try:
            return isinstance(self.actions.get(step.action), Action)
        except UnknownAction:
            return False

    def _mark_started(
        self,
        conn: Connection,
        run_id: str,
        gen: int,
        index: int,
        step: Step,
        attempt: int,
        incident: Mapping[str, Any],
        now: datetime,
    ) -> None:
        repo.update_step(
            conn,
            run_id,
            index,
            now,
            only_statuses=ACTIVE_RUN_STATUSES,
            status=RunStatus.RUNNING.value,
            attempts=attempt,
            started_at=func.coalesce(playbook_run_steps.c.started_at, now),
        )
        self._event(
            conn,
            int(incident["seq"]),
            run_actor(run_id),
            "run_step_started",
            {
                "run_id": run_id,
                "step": step.name,
                "index": index,
                "action": step.action,
                "attempt": attempt,
            },
            f"{step_key(run_id, index, gen)}:started{attempt}",
        )

    def _begin_attempt(
        self,
        run_id: str,
        gen: int,
        index: int,
        attempt: int,
        step: Step,
        incident: Mapping[str, Any],
        last: bool,
    ) -> dict[str, Any] | None:
        """Mark the attempt started, unless it is already; if the step already ended (its
        outcome committed, then a crash before DBOS checkpointed the attempt), that outcome."""
        started_key = f"{step_key(run_id, index, gen)}:started{attempt}"
        with self.db.read() as conn:
            row = repo.get_step(conn, run_id, index)
            run_status = repo.get_run_status(conn, run_id) if last else None
            started = repo.event_recorded(conn, started_key)
        if row.status in TERMINAL_STATUSES:
            done = run_status is not None and run_status in TERMINAL_STATUSES
            return {
                "status": row.status.value,
                "attempts": row.attempts,
                "recorded": True,
                "run_status": run_status.value if done and run_status is not None else None,
            }
        if started:
            return None  # marked by the transaction before (or before a crash)
        now = self.clock()
        self._write(
            lambda conn: self._mark_started(conn, run_id, gen, index, step, attempt, incident, now)
        )
        return None

    def _end_attempt(
        self,
        run_id: str,
        gen: int,
        index: int,
        step: Step,
        outcome: Mapping[str, Any],
        incident: Mapping[str, Any],
        next_index: int | None,
        next_step: Step | None,
        last: bool,
    ) -> str | None:
        """One transaction: the step's outcome, the next step started (if it goes straight to
        its action), and the run's end (if this was its last step). The run's status if ended."""
        now = self.clock()
        seq = int(incident["seq"])

        def txn(conn: Connection) -> str | None:
            self._record_finished(conn, run_id, seq, gen, index, step.name, outcome, now)
            if next_index is not None and next_step is not None:
                self._mark_started(conn, run_id, gen, next_index, next_step, 1, incident, now)
            if last:
                return self._finish_run(conn, repo.get_run(conn, run_id), gen, None, None, now)
            return None

        return self._write(txn)

    async def step_attempt(
        self,
        run_id: str,
        gen: int,
        index: int,
        attempt: int,
        step_json: dict[str, Any],
        incident: dict[str, Any],
        next_index: int | None = None,
        next_json: dict[str, Any] | None = None,
        last: bool = False,
    ) -> dict[str, Any]:
        """One attempt of an action, and on success its bookkeeping (the DBOS step a crash may
        re-execute: keys make the action safe, and a step whose outcome is already on its row
        is not run again)."""
        step = Step.model_validate(step_json)
        prior = await asyncio.to_thread(
            self._begin_attempt, run_id, gen, index, attempt, step, incident, last
        )
        if prior is not None:
            return prior
        action = self.actions.get(step.action)
        ctx = self._context(run_id, gen, index, step, attempt, incident)
        if not isinstance(action, Action):
            raise ActionError(f"action {step.action!r} cannot run as a step")
        result = await action.run(ctx)
        status = "succeeded" if result.outcome == Outcome.SUCCEEDED else "skipped"
        outcome: dict[str, Any] = {"status": status, "attempts": attempt}
        if result.detail:
            outcome["output"] = dict(result.detail)
        if result.reason:
            outcome["reason"] = result.reason
        next_step = Step.model_validate(next_json) if next_json is not None else None
        run_status = await asyncio.to_thread(
            self._end_attempt,
            run_id,
            gen,
            index,
            step,
            outcome,
            incident,
            next_index,
            next_step,
            last,
        )
        return {**outcome, "recorded": True, "run_status": run_status}

    def describe(
        self, run_id: str, gen: int, index: int, step: Step, incident: dict[str, Any]
    ) -> str:
        try:
            action = self.actions.get(step.action)
            return action.describe(self._context(run_id, gen, index, step, 0, incident))
        except (UnknownAction, ActionError) as exc:
            return f"would fail: {exc}"

    # -- the workflow body ----------------------------------------------------------------

    async def execute(self, run_id: str) -> str:
        from dbos import DBOS

        plan = await DBOS.run_step_async({"name": "load"}, self.step_load, run_id)
        if plan is None:
            return "missing"
        if RunStatus(plan["status"]) in TERMINAL_STATUSES:
            return str(plan["status"])
        playbook = Playbook.from_dict(plan["spec"])
        incident: dict[str, Any] = plan["incident"]
        gen: int = plan["generation"]
        dry_run: bool = plan["dry_run"]
        todo = sorted(set(plan["todo"]))
        aborted_at: int | None = None
        abort_status: str | None = None
        for pos, index in enumerate(todo):
            step = playbook.steps[index]
            following = todo[pos + 1] if pos + 1 < len(todo) else None
            chain: tuple[int, Step] | None = None
            if following is not None and self._plain(playbook.steps[following], incident, dry_run):
                chain = (following, playbook.steps[following])
            outcome = await self._execute_step(
                run_id, gen, index, step, incident, dry_run, chain, following is None
            )
            if outcome.pop("recorded", False):
                # The attempt recorded its outcome (and maybe the run's end) itself.
                ended = outcome.pop("run_status", None)
                if ended is not None:
                    return str(ended)
                status = str(outcome["status"])
            else:
                status = await DBOS.run_step_async(
                    {"name": f"finish-{index}"},
                    self.step_finished,
                    run_id,
                    gen,
                    index,
                    step.name,
                    outcome,
                )
            failed = status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
            if failed and (step.on_failure is OnFailure.ABORT or outcome.get("abort")):
                aborted_at, abort_status = index, status
                break
        final: str = await DBOS.run_step_async(
            {"name": "finish"}, self.step_run_finished, run_id, gen, aborted_at, abort_status
        )
        return final

    async def _execute_step(
        self,
        run_id: str,
        gen: int,
        index: int,
        step: Step,
        incident: dict[str, Any],
        dry_run: bool,
        chain: tuple[int, Step] | None,
        last: bool,
    ) -> dict[str, Any]:
        """A step's outcome; `recorded` when its attempt already wrote it (see `step_attempt`),
        which then also started step `chain` and, if `last`, ended the run."""
        from dbos import DBOS
        from dbos._error import DBOSStepTimeoutError

        if not step.applies(incident):
            return {"status": "skipped", "reason": f"when is false: {step.when}", "attempts": 0}
        if dry_run:
            would = self.describe(run_id, gen, index, step, incident)
            output: dict[str, Any] = {"dry_run": True, "would": would}
            if step.approval.required:
                output["approval"] = (
                    f"would wait up to {step.approval.timeout_seconds:g}s for {step.approval.role}"
                    f", then {step.approval.on_timeout}"
                )
            return {"status": "skipped", "reason": "dry run", "output": output, "attempts": 0}
        if step.approval.required:
            verdict = await self._await_approval(
                run_id, gen, index, step, self.describe(run_id, gen, index, step, incident)
            )
            if verdict is not None:
                return verdict
        try:
            action = self.actions.get(step.action)
        except UnknownAction as exc:
            return {"status": "failed", "error": str(exc), "attempts": 0}
        attempts = step.retries.count + 1
        last_status, last_error = "failed", ""
        for attempt in range(1, attempts + 1):
            try:
                if isinstance(action, DurableSleep) and not isinstance(action, Action):
                    ctx = self._context(run_id, gen, index, step, attempt, incident)
                    seconds = action.sleep_seconds(ctx)
                    until: str = await DBOS.run_step_async(
                        {"name": f"sleep-{index}"},
                        self._mark_sleeping,
                        run_id,
                        gen,
                        index,
                        step.name,
                        seconds,
                        int(incident["seq"]),
                    )
                    remaining = (datetime.fromisoformat(until) - self.clock()).total_seconds()
                    await DBOS.sleep_async(replay_safe_seconds(remaining))
                    return {
                        "status": "succeeded",
                        "attempts": attempt,
                        "output": {"slept_seconds": seconds},
                    }
                result = await DBOS.run_step_async(
                    {
                        "name": f"step-{index}-{attempt}",
                        "timeout_seconds": step.timeout_seconds,
                        "preemptible": True,
                    },
                    self.step_attempt,
                    run_id,
                    gen,
                    index,
                    attempt,
                    step.model_dump(mode="json"),
                    incident,
                    None if chain is None else chain[0],
                    None if chain is None else chain[1].model_dump(mode="json"),
                    last,
                )
                return dict(result)
            except DBOSStepTimeoutError:
                last_status, last_error = "timed_out", f"timed out after {step.timeout_seconds:g}s"
            except ActionError as exc:
                last_status, last_error = "failed", str(exc)
            except Exception as exc:
                if type(exc).__name__ == "DBOSWorkflowCancelledError":
                    raise
                last_status, last_error = "failed", f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                wait = retry_delay(step, run_id, index, attempt)
                await DBOS.run_step_async(
                    {"name": f"retry-{index}-{attempt}"},
                    self.step_attempt_failed,
                    run_id,
                    gen,
                    index,
                    step.name,
                    attempt,
                    last_error,
                    wait,
                )
                await DBOS.sleep_async(replay_safe_seconds(wait))
        return {"status": last_status, "error": last_error, "attempts": attempts}

    async def _await_approval(
        self, run_id: str, gen: int, index: int, step: Step, asks: str
    ) -> dict[str, Any] | None:
        """Wait durably for a decision; an outcome ends the step, None means go ahead."""
        from dbos import DBOS

        approval = step.approval
        deadline: str = await DBOS.run_step_async(
            {"name": f"await-{index}"},
            self.step_waiting,
            run_id,
            gen,
            index,
            step.name,
            approval.role.value,
            approval.timeout_seconds,
            asks,
        )
        # The deadline is the checkpointed one: a crash between that checkpoint and recv
        # recording its own timer must not restart the full wait.
        remaining = (datetime.fromisoformat(deadline) - self.clock()).total_seconds()
        message = await DBOS.recv_async(
            approval_topic(index, gen), timeout_seconds=replay_safe_seconds(remaining)
        )
        if isinstance(message, dict) and message.get("decision") == "cancel":
            return {"status": "cancelled", "error": "run cancelled", "attempts": 0}
        await DBOS.run_step_async(
            {"name": f"decided-{index}"},
            self.step_decided,
            run_id,
            gen,
            index,
            step.name,
            message if isinstance(message, dict) else None,
        )
        if message is None:
            if approval.on_timeout is OnTimeout.ABORT:
                return {
                    "status": "timed_out",
                    "error": "nobody approved in time",
                    "attempts": 0,
                    "abort": True,
                }
            if approval.on_timeout is OnTimeout.SKIP:
                return {"status": "skipped", "reason": "nobody approved in time", "attempts": 0}
        elif message.get("decision") == "reject":
            by, note = message.get("by"), message.get("note") or ""
            return {
                "status": "skipped",
                "reason": f"rejected by {by}" + (f": {note}" if note else ""),
                "attempts": 0,
            }
        return None

    def _mark_sleeping(
        self, run_id: str, gen: int, index: int, name: str, seconds: float, seq: int
    ) -> str:
        """Mark a `wait` step running; return its wake-up time (kept if already set)."""
        now = self.clock()
        with self.db.write() as conn:
            current = repo.get_run(conn, run_id).steps[index]
            if current.status is RunStatus.RUNNING and current.deadline_at is not None:
                return current.deadline_at.isoformat()
            until = now + timedelta(seconds=seconds)
            repo.update_step(
                conn,
                run_id,
                index,
                now,
                only_statuses=ACTIVE_RUN_STATUSES,
                status=RunStatus.RUNNING.value,
                attempts=1,
                started_at=now,
                deadline_at=until,
            )
            self._event(
                conn,
                seq,
                run_actor(run_id),
                "run_step_started",
                {
                    "run_id": run_id,
                    "step": name,
                    "index": index,
                    "action": "wait",
                    "seconds": seconds,
                },
                f"{step_key(run_id, index, gen)}:started1",
            )
        return until.isoformat()


def _off_event_loop(fn: Callable[[], None]) -> None:
    """Run `fn` here, or in a helper thread when this thread runs an event loop (DBOS refuses
    its blocking calls there, e.g. when an embedded Responder starts inside `async with`)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn()
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="defib-engine-start")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def current_engine() -> PlaybookEngine:
    if _slot.engine is None:
        raise RuntimeError("no playbook engine is launched in this process")
    return _slot.engine


def _register_workflow() -> None:
    from dbos import DBOS

    @DBOS.workflow(name=WORKFLOW_NAME, max_recovery_attempts=100)
    async def run_playbook(run_id: str) -> str:
        return await current_engine().execute(run_id)


_register_workflow()
