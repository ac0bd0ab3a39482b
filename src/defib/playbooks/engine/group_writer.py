"""Group commit for the engine's bookkeeping writes (see `GroupWriter`)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import Connection

from defib.store.batching import BatchingThread
from defib.store.database import Database
from defib.store.outage import is_lock_conflict

T = TypeVar("T")

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
    transaction and commits once. A caller gets its answer only after the commit: nothing
    is acknowledged that is not durable.

    A job that fails must not undo the others, but a savepoint per job costs two round
    trips each on PostgreSQL, on the one thread every run's bookkeeping waits for. So a
    group runs first without savepoints; only if something in it fails (then nothing of it
    was written) does it run again with each job in its own savepoint, where the failing
    job is rolled back alone and its caller gets the exception.
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
        if not self._all_at_once(jobs):
            self._each_in_savepoint(jobs)

    def _all_at_once(self, jobs: list[_Job]) -> bool:
        """Run the group in one transaction without savepoints; False (nothing written) if
        anything failed."""
        try:
            # Defers to intake (on PostgreSQL beside the other group writers: shared).
            with self.db.write(defer=True) as conn:
                values = [job.fn(conn) for job in jobs]
        except Exception:
            return False
        for job, value in zip(jobs, values, strict=True):
            job.future.set_result(value)
        return True

    def _each_in_savepoint(self, jobs: list[_Job]) -> None:
        done: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            # Defers to intake (on PostgreSQL beside the other group writers: shared).
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
                self._each_in_savepoint(retry)
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
            self._each_in_savepoint(again)
