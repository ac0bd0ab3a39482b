"""The reconciler and the watchdog: no run sits active with nothing behind it.

Every worker runs a pass now and then (`Worker`): for each active run it asks DBOS about
the run's workflow and acts on `reconcile.verdict` (resume an orphan, drive the run again
after a storage failure, or fail it: run and step marked failed with the error, the
timeline says so, the incident's notification channels are told). Then the watchdog
flags active runs with no progress past their step's allowance plus a margin (a
`run_stuck` event, once per step; `defib runs list --stuck` shows them).

Two workers reconciling the same run at once is harmless: every write (`run_state.fail`,
`run_state.redrive`) is conditional on the run still being active with the workflow id it
read, and every event has a key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from defib.events import TimelineKind
from defib.playbooks.engine import run_state
from defib.playbooks.engine.run_state import RECONCILER_ACTOR
from defib.playbooks.engine.verdicts import (
    Verdict,
    VerdictKind,
    WorkflowState,
    redrive_count,
    redrive_workflow_id,
    stuck_since,
    verdict,
)
from defib.playbooks.runs import ACTIVE_RUN_STATUSES, Run, run_actor
from defib.store import runs as repo
from defib.store.database import Database

__all__ = ["RECONCILER_ACTOR", "PassReport", "Reconciler", "Workflows"]

log = logging.getLogger(__name__)


class Workflows(Protocol):
    """What the reconciler needs of DBOS (the engine's host provides it)."""

    def workflow_states(self, workflow_ids: list[str]) -> Mapping[str, WorkflowState]: ...

    def resume(self, workflow_id: str) -> None: ...

    def enqueue(self, run_id: str, workflow_id: str) -> None: ...


@dataclass
class PassReport:
    resumed: list[str]
    redriven: list[str]
    failed: list[str]
    stuck: list[str]


class Reconciler:
    def __init__(
        self,
        db: Database,
        workflows: Workflows,
        *,
        clock: Callable[[], datetime],
        stuck_margin_seconds: float,
        notify: Callable[[Run, str], None] | None = None,
    ) -> None:
        self.db = db
        self.workflows = workflows
        self.clock = clock
        self.margin = stuck_margin_seconds
        self.notify = notify

    # -- reads ----------------------------------------------------------------------------

    def stuck_runs(self, runs: list[Run] | None = None) -> list[tuple[Run, datetime]]:
        """Active runs past their allowance plus the margin, with the moment they got stuck."""
        if runs is None:
            with self.db.read() as conn:
                runs = repo.active_runs(conn)
        now = self.clock()
        out = []
        for run in runs:
            since = stuck_since(run, now, self.margin)
            if since is not None:
                out.append((run, since))
        return out

    # -- one pass -------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        report = PassReport([], [], [], [])
        with self.db.read() as conn:
            runs = repo.active_runs(conn)
        if not runs:
            return report
        states = self.workflows.workflow_states([r.workflow_id for r in runs])
        for run in runs:
            state = states.get(run.workflow_id, WorkflowState(None))
            decided = verdict(run, state)
            try:
                self._act(run, decided, report)
            except Exception:
                log.warning("reconciler: could not act on run %s", run.id, exc_info=True)
        for run, since in self.stuck_runs([r for r in runs if r.id not in report.failed]):
            if self._flag_stuck(run, since):
                report.stuck.append(run.id)
        return report

    def _act(self, run: Run, decided: Verdict, report: PassReport) -> None:
        if decided.kind is VerdictKind.RESUME:
            log.warning("reconciler: run %s: %s; resuming it", run.id, decided.reason)
            self.workflows.resume(run.workflow_id)
            report.resumed.append(run.id)
        elif decided.kind is VerdictKind.REDRIVE:
            new_id = redrive_workflow_id(run.workflow_id, redrive_count(run.workflow_id) + 1)
            if self._redrive(run, new_id, decided.reason):
                log.warning("reconciler: run %s: %s", run.id, decided.reason)
                self.workflows.enqueue(run.id, new_id)
                report.redriven.append(run.id)
        elif decided.kind is VerdictKind.FAIL and self._fail(run, decided.reason):
            log.error("reconciler: run %s failed: %s", run.id, decided.reason)
            report.failed.append(run.id)
            if self.notify is not None:
                try:
                    self.notify(run, decided.reason)
                except Exception:
                    log.warning("reconciler: could not notify for %s", run.id, exc_info=True)

    # -- writes (through `run_state`, the one module that writes run state) -------------

    def _fail(self, run: Run, reason: str) -> bool:
        now = self.clock()
        with self.db.write() as conn:
            return run_state.fail(conn, run, now, reason)

    def _redrive(self, run: Run, new_workflow_id: str, reason: str) -> bool:
        now = self.clock()
        with self.db.write() as conn:
            return run_state.redrive(conn, run, new_workflow_id, now, reason)

    def _flag_stuck(self, run: Run, since: datetime) -> bool:
        """One `run_stuck` event per run, generation and step (False if already flagged)."""
        step = next(
            (s for s in run.steps if s.status in ACTIVE_RUN_STATUSES and s.status != "pending"),
            None,
        )
        where = "none" if step is None else str(step.index)
        key = f"{run.workflow_id}:stuck:{where}"
        data: dict[str, Any] = {
            "run_id": run.id,
            "status": run.status.value,
            "since": since.isoformat(),
            "step": None if step is None else step.name,
            "index": None if step is None else step.index,
        }
        with self.db.write() as conn:
            if repo.event_recorded(conn, key):
                return False
            run_state.event(
                conn,
                run.incident_seq,
                self.clock(),
                run_actor(run.id),
                TimelineKind.RUN_STUCK,
                data,
                key,
            )
        log.warning("watchdog: run %s made no progress since %s", run.id, since.isoformat())
        return True
