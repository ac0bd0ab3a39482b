"""What a step came to, typed; and the plain-dict form DBOS checkpoints and the timeline shows.

DBOS records step outputs (pickled), and runs recorded by an older worker replay on a newer
one, so what crosses a DBOS step boundary stays a plain dict with the keys it always had;
this module converts at that boundary and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from defib.playbooks.runs import RunStatus


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How a step ended: its status, the attempts it took, and why."""

    status: RunStatus
    attempts: int = 0
    error: str | None = None
    reason: str | None = None
    output: Mapping[str, Any] | None = None
    # A timed-out approval whose policy is `abort`: the run stops whatever the step's
    # `on_failure` says.
    abort: bool = False
    # Set when the attempt wrote this outcome to the ledger itself (see `Workflow.step_attempt`):
    # then nothing is left to record, and `run_status` says whether that ended the run.
    recorded: bool = False
    run_status: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)

    def as_record(self) -> dict[str, Any]:
        """The outcome as the step's row and its `run_step_finished` event hold it."""
        record: dict[str, Any] = {"status": self.status.value, "attempts": self.attempts}
        if self.error is not None:
            record["error"] = self.error
        if self.reason is not None:
            record["reason"] = self.reason
        if self.output is not None:
            record["output"] = dict(self.output)
        if self.abort:
            record["abort"] = True
        return record

    def as_checkpoint(self) -> dict[str, Any]:
        """The form a DBOS step returns (and replays)."""
        record = self.as_record()
        if self.recorded:
            record["recorded"] = True
            record["run_status"] = self.run_status
        return record

    @classmethod
    def from_checkpoint(cls, data: Mapping[str, Any]) -> StepOutcome:
        output = data.get("output")
        return cls(
            status=RunStatus(data["status"]),
            attempts=int(data.get("attempts", 0)),
            error=data.get("error"),
            reason=data.get("reason"),
            output=dict(output) if output is not None else None,
            abort=bool(data.get("abort", False)),
            recorded=bool(data.get("recorded", False)),
            run_status=data.get("run_status"),
        )


@dataclass(frozen=True, slots=True)
class LoadedRun:
    """The run as its workflow needs it (the `load` step's checkpoint, typed)."""

    status: RunStatus
    spec: Mapping[str, Any]
    incident: dict[str, Any]
    generation: int
    workflow_id: str
    dry_run: bool
    todo: tuple[int, ...]

    def as_checkpoint(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "spec": self.spec,
            "incident": self.incident,
            "generation": self.generation,
            "workflow_id": self.workflow_id,
            "dry_run": self.dry_run,
            "todo": list(self.todo),
        }

    @classmethod
    def from_checkpoint(cls, data: Mapping[str, Any]) -> LoadedRun:
        return cls(
            status=RunStatus(data["status"]),
            spec=data["spec"],
            incident=dict(data["incident"]),
            generation=int(data["generation"]),
            workflow_id=str(data["workflow_id"]),
            dry_run=bool(data["dry_run"]),
            todo=tuple(sorted(set(data["todo"]))),
        )
