"""The DBOS host: the only module of defib that imports `dbos`.

Everything DBOS does for the engine goes through here: its configuration and launch, the
workflow's registration, enqueueing, messages (approvals), cancellation, and the durable
operations a workflow performs (steps, sleeps, receives). The rest of the engine sees
plain functions, so DBOS's process-global singleton stays in one place.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from dbos import DBOS, DBOSClient, EnqueueOptions, StepOptions
from dbos._error import DBOSStepTimeoutError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from defib.playbooks.engine.verdicts import WorkflowState
from defib.store.outage import is_storage_unavailable, mentions_storage_failure

log = logging.getLogger(__name__)

# DBOS's application version. By default DBOS hashes the workflow source and a changed
# hash strands pending runs; we pin it and bump it only when the workflow's sequence of
# DBOS operations changes incompatibly (then old runs must drain on an old worker).
ENGINE_VERSION = "defib-engine-2"
WORKFLOW_NAME = "defib.run_playbook"
QUEUE_NAME = "defib-runs"
DBOS_APP_NAME = "defib"
SYSTEM_DB_POOL_SIZE = 20

# Right after launch DBOS itself is still handing this executor's PENDING workflows back
# to the queue (its recovery); orphans are looked for only after this long.
ORPHAN_GRACE_SECONDS = 10.0

# A step that ran past its `timeout_seconds` (DBOS preempts it).
StepTimeout = DBOSStepTimeoutError

T = TypeVar("T")
WorkflowBody = Callable[[str], Awaitable[str]]


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


def is_cancellation(exc: BaseException) -> bool:
    """Whether `exc` is DBOS stopping a cancelled workflow (it must propagate, not be retried)."""
    return type(exc).__name__ == "DBOSWorkflowCancelledError"


class _Slot:
    """The host launched in this process (DBOS is a per-process singleton) and the body its
    registered workflow runs."""

    host: DbosHost | None = None
    body: WorkflowBody | None = None


_slot = _Slot()


class DbosHost:
    """DBOS for one engine: launched (a worker) or through a client (API-only processes)."""

    def __init__(self, system_url: str, *, sqlite: bool, log_level: str = "WARNING") -> None:
        self.system_url = system_url
        self.sqlite = sqlite
        # DBOS's own logger ($DEFIB_DBOS_LOG_LEVEL, read by the Runtime).
        self.log_level = log_level
        self._client: DBOSClient | None = None
        # Held while DBOS launches and while a run is enqueued: the engine's enqueuer thread
        # may enqueue (through a client that migrates DBOS's database first) while the worker
        # launches, and two first connections to a fresh SQLite file both switching it to WAL
        # fail with "database is locked" without waiting for the busy timeout.
        self._client_lock = threading.RLock()
        self.executor_id: str | None = None
        self._suspects: set[str] = set()
        self._launched_at = 0.0
        self._dequeuer: _Dequeuer | None = None

    @property
    def launched(self) -> bool:
        return _slot.host is self

    def client(self) -> DBOSClient:
        """A DBOSClient on the system database (migrated first), for processes without a worker."""
        with self._client_lock:
            if self._client is None:
                if self.sqlite:
                    engine = sqlite_system_engine(self.system_url)
                    # The client never migrates; create DBOS's tables if no worker has yet.
                    DBOS.migrate(self.system_url)
                    self._client = DBOSClient(system_database_engine=engine)
                else:
                    DBOS.migrate(self.system_url)
                    self._client = DBOSClient(system_database_url=self.system_url)
            return self._client

    # -- acting on workflows --------------------------------------------------------------

    def enqueue(self, run_id: str, workflow_id: str, dedup: str | None = None) -> None:
        """Enqueue a run's workflow, and start it now if this process serves the queue;
        idempotent (the workflow id is the run's)."""
        options = EnqueueOptions(
            queue_name=QUEUE_NAME,
            workflow_name=WORKFLOW_NAME,
            workflow_id=workflow_id,
            app_version=ENGINE_VERSION,
        )
        if dedup is not None:
            options["deduplication_id"] = dedup
            options["duplication_policy"] = "return-existing"
        with self._client_lock:
            if self.launched:
                DBOS.enqueue_workflow_with_options(options, run_id)
            else:
                self.client().enqueue(options, run_id)
        self.wake()

    def wake(self) -> None:
        """Start queued runs now if this process serves the queue (see `wakeup`)."""
        dequeuer = self._dequeuer
        if dequeuer is not None:
            dequeuer.wake()

    def known_workflows(self, workflow_ids: list[str]) -> set[str]:
        """Which of these workflows DBOS has (any status)."""
        if not workflow_ids:
            return set()
        if self.launched:
            found = DBOS.list_workflows(
                workflow_ids=workflow_ids, load_input=False, load_output=False
            )
        else:
            found = self.client().list_workflows(
                workflow_ids=workflow_ids, load_input=False, load_output=False
            )
        return {str(status.workflow_id) for status in found}

    def workflow_states(self, workflow_ids: list[str]) -> dict[str, WorkflowState]:
        """What DBOS knows of these workflows (absent: DBOS has none by that id)."""
        if not workflow_ids:
            return {}
        if self.launched:
            found = DBOS.list_workflows(workflow_ids=workflow_ids, load_input=False)
        else:
            found = self.client().list_workflows(workflow_ids=workflow_ids, load_input=False)
        orphans = self._orphans(
            [
                str(w.workflow_id)
                for w in found
                if w.status == "PENDING" and w.executor_id == self.executor_id
            ]
        )
        out: dict[str, WorkflowState] = {}
        for w in found:
            error = w.error
            storage = error is not None and (
                is_storage_unavailable(error) or mentions_storage_failure(str(error))
            )
            out[str(w.workflow_id)] = WorkflowState(
                status=str(w.status),
                error=None if error is None else f"{type(error).__name__}: {error}"[:500],
                storage_error=storage,
                orphaned=str(w.workflow_id) in orphans,
            )
        return out

    def _orphans(self, pending_here: list[str]) -> set[str]:
        """Workflows PENDING on this executor that no coroutine of this process runs, in two
        passes in a row (a workflow just dequeued is PENDING a moment before it is active)."""
        if not self.launched or time.monotonic() - self._launched_at < ORPHAN_GRACE_SECONDS:
            return set()
        from dbos._dbos import _get_dbos_instance

        active = set(_get_dbos_instance()._active_workflows_set.activeList())
        suspects = {w for w in pending_here if w not in active}
        confirmed = suspects & self._suspects
        self._suspects = suspects
        return confirmed

    def resume(self, workflow_id: str) -> None:
        """Hand a workflow of this executor that died unrecorded back to the queue."""
        if not self.launched or self.executor_id is None:
            return
        from dbos._dbos import _get_dbos_instance
        from dbos._utils import INTERNAL_QUEUE_NAME

        _get_dbos_instance()._sys_db.reenqueue_for_recovery(
            workflow_id, [self.executor_id], INTERNAL_QUEUE_NAME
        )

    def send(self, workflow_id: str, message: Any, topic: str, key: str) -> None:
        if self.launched:
            DBOS.send(workflow_id, message, topic, idempotency_key=key)
        else:
            self.client().send(workflow_id, message, topic, idempotency_key=key)

    def cancel(self, workflow_id: str) -> None:
        if self.launched:
            DBOS.cancel_workflow(workflow_id)
        else:
            self.client().cancel_workflow(workflow_id)

    # -- the worker side ------------------------------------------------------------------

    def launch(
        self, executor_id: str, body: WorkflowBody, *, poll_seconds: float, concurrency: int
    ) -> None:
        """Start DBOS in this process: it recovers this executor's runs and serves the queue,
        running `body(run_id)` for each."""
        _off_event_loop(lambda: self._launch(executor_id, body, poll_seconds, concurrency))

    def _launch(
        self, executor_id: str, body: WorkflowBody, poll_seconds: float, concurrency: int
    ) -> None:
        with self._client_lock:
            self._launch_locked(executor_id, body, poll_seconds, concurrency)

    def _launch_locked(
        self, executor_id: str, body: WorkflowBody, poll_seconds: float, concurrency: int
    ) -> None:
        if _slot.host is not None:
            raise RuntimeError("a playbook engine is already launched in this process")
        config: dict[str, Any] = {
            "name": DBOS_APP_NAME,
            "system_database_url": self.system_url,
            "application_version": ENGINE_VERSION,
            "executor_id": executor_id,
            "log_level": self.log_level,
            "notification_listener_polling_interval_sec": poll_seconds,
        }
        if self.sqlite:
            config["system_database_engine"] = sqlite_system_engine(self.system_url)
        _slot.host, _slot.body = self, body
        self.executor_id = executor_id
        self._launched_at = time.monotonic()
        try:
            DBOS(config=config)  # type: ignore[arg-type]
            DBOS.launch()
            queue = DBOS.register_queue(
                QUEUE_NAME,
                worker_concurrency=concurrency,
                polling_interval_sec=poll_seconds,
                on_conflict="always_update",
            )
            self._dequeuer = _Dequeuer(queue, concurrency)
        except BaseException:
            _slot.host, _slot.body = None, None
            DBOS.destroy()
            raise

    def shutdown(self) -> None:
        _off_event_loop(self._shutdown)

    def _shutdown(self) -> None:
        dequeuer, self._dequeuer = self._dequeuer, None
        if dequeuer is not None:
            dequeuer.stop()
        if _slot.host is self:
            DBOS.destroy(workflow_completion_timeout_sec=0)
            _slot.host, _slot.body = None, None

    def close(self) -> None:
        self.shutdown()
        if self._client is not None:
            self._client.destroy()
            self._client = None


class _Dequeuer:
    """Claims and starts this worker's queued runs each time it is woken.

    It does what one pass of DBOS's queue thread does (claim up to the worker's free
    concurrency, then start each claimed workflow), on demand instead of on a timer. Both
    may claim at once: a row flips from ENQUEUED to PENDING once (the claim's UPDATE checks
    the status), so no run starts twice; the worker's concurrency may be exceeded by what
    the two claimed in the same instant, at most one batch.
    """

    def __init__(self, queue: Any, concurrency: int) -> None:
        self._queue = queue
        self._concurrency = concurrency
        self._event = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="defib-dequeuer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._event.set()

    def stop(self) -> None:
        self._stopping = True
        self._event.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            self._event.wait()
            if self._stopping:
                return
            # Cleared before the claim: a wake-up during it means another pass.
            self._event.clear()
            try:
                self._claim_and_start()
            except Exception:
                if not self._stopping:
                    log.warning(
                        "could not start queued runs now; the queue poll will", exc_info=True
                    )

    def _claim_and_start(self) -> None:
        from dbos._core import execute_dequeued_workflow
        from dbos._dbos import _get_dbos_instance
        from dbos._utils import GlobalParams, generate_uuid

        dbos = _get_dbos_instance()
        running = dbos._active_workflows_set.count_for_queue(QUEUE_NAME)
        if running >= self._concurrency:
            return
        owner_xid = generate_uuid()
        claimed, _ = dbos._sys_db.start_queued_workflows(
            self._queue,
            GlobalParams.executor_id,
            GlobalParams.app_version,
            None,
            running,
            owner_xid=owner_xid,
            # Every run is enqueued with ENGINE_VERSION, so none is version-less: no need for
            # the query that decides whether this worker may take version-less ones.
            is_latest_version=False,
        )
        if not claimed:
            return
        found = {s["workflow_uuid"]: s for s in dbos._sys_db.get_workflow_statuses(claimed)}
        for workflow_id in claimed:
            try:
                status = found.get(workflow_id) or dbos._sys_db.get_workflow_status(workflow_id)
                if status is None:
                    raise RuntimeError(f"workflow {workflow_id} has no status")
                execute_dequeued_workflow(dbos, status, owner_xid)
            except Exception:
                # Claimed but not started: PENDING on this executor, which the reconciler
                # finds orphaned and resumes.
                log.warning("could not start workflow %s", workflow_id, exc_info=True)


# -- durable operations, inside the workflow ------------------------------------------------


# A step that fails because storage is unusable (PostgreSQL down, SQLite's disk full) is
# tried again every second for this long before its error is recorded: storage outages
# are waited out in place, as DBOS waits out its own, instead of failing the step. Past
# that the workflow ends in error and the reconciler drives the run again.
STORAGE_RETRY_INTERVAL_SECONDS = 1.0
STORAGE_RETRY_ATTEMPTS = 120

# Test hook: awaited after every durable operation of a workflow with its workflow id
# (the systematic replay test stops workflows there). None in production.
OperationHook = Callable[[str], Awaitable[None]]


class _Hooks:
    after_operation: OperationHook | None = None


_hooks = _Hooks()


def set_operation_hook(hook: OperationHook | None) -> None:
    """Install (or remove, with None) the test hook run after each durable operation."""
    _hooks.after_operation = hook


async def _after_operation() -> None:
    hook = _hooks.after_operation
    if hook is not None:
        workflow_id = DBOS.workflow_id
        if workflow_id is not None:
            await hook(workflow_id)


async def run_step(
    name: str,
    fn: Callable[..., Any],
    *args: Any,
    timeout_seconds: float | None = None,
    preemptible: bool = False,
) -> Any:
    """Run `fn(*args)` as a checkpointed DBOS step named `name` (its output on replay).

    Storage errors are retried in place (see STORAGE_RETRY_ATTEMPTS); any other error is
    recorded at once, as the step's outcome.
    """
    options: StepOptions = {
        "name": name,
        "retries_allowed": True,
        "max_attempts": STORAGE_RETRY_ATTEMPTS,
        "interval_seconds": STORAGE_RETRY_INTERVAL_SECONDS,
        "backoff_rate": 1.0,
        "should_retry": is_storage_unavailable,
    }
    if timeout_seconds is not None:
        options["timeout_seconds"] = timeout_seconds
    if preemptible:
        options["preemptible"] = True
    result = await DBOS.run_step_async(options, fn, *args)
    await _after_operation()
    return result


# DBOS.sleep returns at once, recording nothing, for a duration <= 0. A duration computed
# from the clock (a deadline minus now) is positive on the first execution and may be
# negative on a replay after downtime: the replay would then make one DBOS call fewer than
# the recording and diverge (DBOSUnexpectedStepError, the run stuck). Every durable wait
# therefore asks for at least this much, so it is always recorded and always replayed.
MIN_DURABLE_WAIT_SECONDS = 0.001


def replay_safe_seconds(seconds: float) -> float:
    """A wait duration DBOS records whatever the clock says (see MIN_DURABLE_WAIT_SECONDS)."""
    return max(seconds, MIN_DURABLE_WAIT_SECONDS)


async def sleep(seconds: float) -> None:
    """A durable sleep (its wake-up time is recorded once); any duration, even past."""
    await DBOS.sleep_async(replay_safe_seconds(seconds))
    await _after_operation()


async def recv(topic: str, timeout_seconds: float) -> Any:
    """A durable receive on `topic` (None at the timeout); any timeout, even past."""
    message = await DBOS.recv_async(topic, timeout_seconds=replay_safe_seconds(timeout_seconds))
    await _after_operation()
    return message


def recover_pending(executor_ids: list[str]) -> int:
    """Recover (in this process) the pending workflows of these executors; how many."""
    return len(DBOS._recover_pending_workflows(executor_ids))


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


def _register_workflow() -> None:
    @DBOS.workflow(name=WORKFLOW_NAME, max_recovery_attempts=100)
    async def run_playbook(run_id: str) -> str:
        body = _slot.body
        if body is None:
            raise RuntimeError("no playbook engine is launched in this process")
        return await body(run_id)


_register_workflow()
