"""A writer thread that hands whatever jobs are waiting to one batch commit.

Intake and the playbook engine both pay a durable commit per transaction; running the jobs
that queued up during the previous commit together spreads that cost over every caller
waiting at that moment. Subclasses say how big a job is and how a batch is written.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Generic, TypeVar

J = TypeVar("J")


class BatchingThread(Generic[J]):
    """Queue jobs; one daemon thread drains up to `max_size` worth and calls `_commit`."""

    thread_name = "defib-batcher"

    def __init__(self, max_size: int, pause_between_batches: float = 0.0) -> None:
        self.max_size = max_size
        self.pause = pause_between_batches
        self._queue: queue.SimpleQueue[J | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _job_size(self, job: J) -> int:
        return 1

    def _commit(self, jobs: list[J]) -> None:
        raise NotImplementedError

    def _put(self, job: J) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name=self.thread_name, daemon=True
                    )
                    self._thread.start()
        self._queue.put(job)

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=10)
                self._thread = None

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            size = self._job_size(first)
            stop = False
            while size < self.max_size:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
                size += self._job_size(nxt)
            self._commit(jobs)
            if stop:
                return
            if self.pause and not self._queue.empty():
                time.sleep(self.pause)
