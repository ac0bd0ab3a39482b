"""Durable playbook runs on DBOS Transact: one generic workflow executes a run's frozen playbook.

Where state lives:

* `playbook_runs` / `playbook_run_steps` (our tables) are what people read: status, attempts,
  times, errors. They are written by DBOS steps, so a replay after a crash skips writes that
  already happened, and every timeline event carries an idempotency key, so a write that
  is re-executed (the step was in flight at the crash) lands once.
* DBOS's system tables (the `dbos` schema on PostgreSQL, a sibling SQLite file embedded)
  hold the checkpoints: which steps completed and with what output, messages (approvals),
  sleeps (their wake-up time is recorded once, so deadlines survive restarts).

The modules, one concept each:

* `host`: DBOS itself (the only module that imports it): config, launch, the workflow's
  registration, enqueue, send, cancel, and the durable operations a workflow performs.
* `run_state`: the one module that writes run state (run and step rows, their events).
* `ledger`: the engine's transactions over run state (people's side and the workflow's),
  group-committed by `group_writer`.
* `reconciler`, `verdicts`: runs with nothing behind them are resumed, redriven or failed.
* `wakeup`: workers start runs when they are enqueued (in process, PostgreSQL NOTIFY).
* `worker`, `janitor`: the engine launched in a process; dead workers' runs taken over.
* `outcome`: a step's outcome, typed, and its checkpointed dict form.
* `workflow`: the workflow body: steps, attempts, retries, approvals, durable sleeps.
* `service`: `PlaybookEngine`, the run service (plan, start, decide, cancel, retry, read)
  and the worker's launch.
"""

from defib.playbooks.engine.group_writer import GroupWriter
from defib.playbooks.engine.host import (
    DBOS_APP_NAME,
    ENGINE_VERSION,
    MIN_DURABLE_WAIT_SECONDS,
    QUEUE_NAME,
    WORKFLOW_NAME,
    dbos_system_url,
    replay_safe_seconds,
    sqlite_system_engine,
)
from defib.playbooks.engine.ledger import Ledger, incident_snapshot
from defib.playbooks.engine.outcome import StepOutcome
from defib.playbooks.engine.run_state import RunConflict
from defib.playbooks.engine.service import PlaybookEngine, role_allows
from defib.playbooks.engine.workflow import Workflow, approval_topic, retry_delay

__all__ = [
    "DBOS_APP_NAME",
    "ENGINE_VERSION",
    "MIN_DURABLE_WAIT_SECONDS",
    "QUEUE_NAME",
    "WORKFLOW_NAME",
    "GroupWriter",
    "Ledger",
    "PlaybookEngine",
    "RunConflict",
    "StepOutcome",
    "Workflow",
    "approval_topic",
    "dbos_system_url",
    "incident_snapshot",
    "replay_safe_seconds",
    "retry_delay",
    "role_allows",
    "sqlite_system_engine",
]
