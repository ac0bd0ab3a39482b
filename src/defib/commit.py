"""Group commit: concurrent intake requests share one database transaction.

A durable commit costs an fsync (SQLite) or a round trip and WAL flush (PostgreSQL); paying
it once per request caps intake at a few hundred requests per second. One writer thread
per process drains whatever arrived while the previous transaction committed and writes it
all in one, so the cost is spread over every sender waiting at that moment. Each sender
still gets its answer only after its alerts are committed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from defib.model import Alert
from defib.service import IncidentService, IngestResult, Triage

log = logging.getLogger(__name__)

# Bounds one transaction: long ones keep other writers (acknowledgements, the janitor) waiting.
MAX_BATCH_ALERTS = 500


@dataclass
class _Job:
    items: Sequence[tuple[Alert, Triage]]
    actor: str
    future: Future[list[IngestResult]] = field(default_factory=Future)


class GroupCommitter:
    """Runs `IncidentService.ingest_batches` on a writer thread, batching concurrent callers."""

    def __init__(
        self, incidents: IncidentService, max_batch_alerts: int = MAX_BATCH_ALERTS
    ) -> None:
        self.incidents = incidents
        self.max_batch_alerts = max_batch_alerts
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.jobs = 0

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="defib-group-commit", daemon=True
                    )
                    self._thread.start()

    def submit(
        self, items: Sequence[tuple[Alert, Triage]], actor: str
    ) -> Future[list[IngestResult]]:
        self._ensure_started()
        job = _Job(items, actor)
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            size = len(first.items)
            stop = False
            while size < self.max_batch_alerts:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
                size += len(nxt.items)
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        self.batches += 1
        self.jobs += len(jobs)
        try:
            results = self.incidents.ingest_batches([(j.items, j.actor) for j in jobs])
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
