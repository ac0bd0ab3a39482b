"""Group commit: concurrent intake requests share one database transaction.

A durable commit costs an fsync (SQLite) or a round trip and WAL flush (PostgreSQL); paying
it once per request caps intake at a few hundred requests per second. One writer thread
per process drains whatever arrived while the previous transaction committed and writes it
all in one, so the cost is spread over every sender waiting at that moment. Each sender
still gets its answer only after its alerts are committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from defib.intake.folding import AlertFolding
from defib.intake.results import IngestResult, Triage
from defib.model import Alert
from defib.store.batching import BatchingThread
from defib.store.outage import is_lock_conflict

log = logging.getLogger(__name__)

# Bounds one transaction: long ones keep other writers (acknowledgements, the janitor) waiting.
MAX_BATCH_ALERTS = 500
# A group that lost a lock race on PostgreSQL (the engine's own group writes lock incidents
# in another order) was rolled back whole: it runs again, this often, before it fails.
CONFLICT_RETRIES = 5


@dataclass
class _Job:
    items: Sequence[tuple[Alert, Triage]]
    actor: str
    future: Future[list[IngestResult]] = field(default_factory=Future)


class GroupCommitter(BatchingThread[_Job]):
    """Runs `AlertFolding.ingest_batches` on a writer thread, batching concurrent callers."""

    thread_name = "defib-group-commit"

    def __init__(self, folding: AlertFolding, max_batch_alerts: int = MAX_BATCH_ALERTS) -> None:
        super().__init__(max_batch_alerts)
        self.folding = folding
        self.batches = 0
        self.jobs = 0

    def submit(
        self, items: Sequence[tuple[Alert, Triage]], actor: str
    ) -> Future[list[IngestResult]]:
        job = _Job(items, actor)
        self._put(job)
        return job.future

    def _job_size(self, job: _Job) -> int:
        return len(job.items)

    def _commit(self, jobs: list[_Job]) -> None:
        self.batches += 1
        self.jobs += len(jobs)
        try:
            results = self._ingest(jobs)
        except Exception as exc:
            if len(jobs) == 1:
                log.exception("intake transaction failed")
                jobs[0].future.set_exception(exc)
                return
            # One sender's bad batch must not fail the others: retry each on its own.
            for job in jobs:
                self._commit([job])
            return
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)

    def _ingest(self, jobs: list[_Job]) -> list[list[IngestResult]]:
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                return self.folding.ingest_batches([(j.items, j.actor) for j in jobs])
            except Exception as exc:
                if attempt == CONFLICT_RETRIES or not is_lock_conflict(exc):
                    raise
                log.info("intake group lost a lock race (%s); running it again", exc)
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")
