"""Pure: the types of a playbook run and its steps (statuses, ids, idempotency keys)."""

from __future__ import annotations

import enum
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "TERMINAL_STATUSES",
    "Run",
    "RunStatus",
    "RunStep",
    "StepStatus",
    "new_run_id",
    "run_actor",
    "step_key",
    "workflow_id_for",
]


class RunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    SUCCEEDED = "succeeded"
    # A run whose steps all ended, but a required one was skipped or unverified, or a
    # SEV1/SEV2 reached nobody: it did not fail, yet it did not do its job by itself.
    NEEDS_ATTENTION = "needs_attention"
    # A verification step that found nothing applicable to prove the failure gone: the
    # incident stays where it is and a person confirms (a step's status, never a run's).
    UNVERIFIED = "unverified"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


# Steps share the run's vocabulary.
StepStatus = RunStatus

ACTIVE_RUN_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING_APPROVAL})
TERMINAL_STATUSES = frozenset(set(RunStatus) - ACTIVE_RUN_STATUSES)
# A person may retry a step that ended in one of these.
RETRYABLE_STEP_STATUSES = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.UNVERIFIED})
# Steps that ended without doing their job: the run fails.
FAILED_STEP_STATUSES = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT})


def new_run_id() -> str:
    """`r` + 11 hex digits of milliseconds + 8 random hex digits: unique and time-sortable."""
    return f"r{int(time.time() * 1000):011x}{secrets.token_hex(4)}"


def workflow_id_for(run_id: str, generation: int) -> str:
    """The DBOS workflow id of a run's generation (0 = the first execution)."""
    return run_id if generation == 0 else f"{run_id}~{generation}"


def step_key(run_id: str, index: int, generation: int = 0) -> str:
    """The idempotency key of step `index`'s side effects: `<run id>:<step index>`.

    A step re-executed after a crash sends the same key; a person's explicit retry is a new
    generation and a deliberate new effect, so it gets a suffix.
    """
    base = f"{run_id}:{index}"
    return base if generation == 0 else f"{base}:retry{generation}"


def run_actor(run_id: str) -> str:
    return f"run:{run_id}"


@dataclass(frozen=True, slots=True)
class RunStep:
    index: int
    name: str
    action: str
    status: RunStatus
    attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    output: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    deadline_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    incident_seq: int
    playbook: str
    playbook_version: str
    playbook_digest: str
    spec: dict[str, Any]
    status: RunStatus
    dry_run: bool
    trigger: str
    created_by: str
    created_at: datetime
    generation: int
    workflow_id: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    steps: tuple[RunStep, ...] = field(default=())

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES
