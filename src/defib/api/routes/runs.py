"""Playbook run routes: list, start (manual or dry), show, cancel, retry a step, approve/reject."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel, ConfigDict, Field

from defib.api.deps import Reader, Responder, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    decode_cursor,
    encode_cursor,
    slice_page,
)
from defib.api.schemas import FreeForm, Timestamp
from defib.auth import Principal
from defib.model import NotFound, format_incident_id
from defib.playbooks.runs import Run, RunStatus, RunStep

router = APIRouter(tags=["runs"])

_ERRORS = error_responses(
    404,
    409,
    d404="no such incident, run or step",
    d409="the run or step is not in a state that allows this",
)


class StartRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    playbook: str | None = Field(
        default=None, max_length=64, description="Default: the incident type's playbook."
    )
    dry_run: bool = Field(default=False, description="Every step reports what it would do.")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=20_000)


class StepApprovalOut(BaseModel):
    """A decision on a step that waited for approval."""

    model_config = ConfigDict(extra="allow")

    decision: str = Field(description="approved | rejected | timeout")
    by: str | None = Field(default=None, description="Who decided (null on a timeout).")
    note: str | None = None
    at: Timestamp | None = None


class StepOut(BaseModel):
    index: int
    name: str
    action: str
    status: RunStatus
    attempts: int
    started_at: Timestamp | None
    ended_at: Timestamp | None
    error: str | None
    output: FreeForm | None
    approval: StepApprovalOut | None
    deadline_at: Timestamp | None

    @classmethod
    def of(cls, s: RunStep) -> StepOut:
        return cls(
            index=s.index,
            name=s.name,
            action=s.action,
            status=s.status,
            attempts=s.attempts,
            started_at=s.started_at,
            ended_at=s.ended_at,
            error=s.error,
            output=s.output,
            approval=StepApprovalOut.model_validate(s.approval) if s.approval else None,
            deadline_at=s.deadline_at,
        )


class RunOut(BaseModel):
    id: str
    incident_id: str
    playbook: str
    playbook_version: str
    status: RunStatus
    dry_run: bool
    trigger: str
    created_by: str
    created_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    error: str | None
    generation: int
    steps: list[StepOut]

    @classmethod
    def of(cls, r: Run) -> RunOut:
        return cls(
            id=r.id,
            incident_id=format_incident_id(r.incident_seq),
            playbook=r.playbook,
            playbook_version=r.playbook_version,
            status=r.status,
            dry_run=r.dry_run,
            trigger=r.trigger,
            created_by=r.created_by,
            created_at=r.created_at,
            started_at=r.started_at,
            ended_at=r.ended_at,
            error=r.error,
            generation=r.generation,
            steps=[StepOut.of(s) for s in r.steps],
        )


class RunPage(Page[RunOut]):
    """Runs, newest first."""


def _step_index(run: Run, step: str) -> int:
    """A step is named by its 0-based index or by its name."""
    if step.isdigit():
        return int(step)
    for s in run.steps:
        if s.name == step:
            return s.index
    raise NotFound(f"run {run.id} has no step {step!r}")


@router.get("/runs", response_model=RunPage, responses=_ERRORS)
def list_all_runs(
    runtime: RuntimeDep,
    _: Reader,
    status_: Annotated[list[RunStatus] | None, Query(alias="status")] = None,
    stuck: Annotated[
        bool,
        Query(description="Only active runs with no progress past their step's allowance."),
    ] = False,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> RunPage:
    """Runs of every incident, newest first; `stuck=true`: those the watchdog flags."""
    after = None if cursor is None else decode_cursor("all-runs", cursor)
    items, more = runtime.engine.runs_page(
        statuses=status_ or (), stuck=stuck, limit=limit, cursor=after
    )
    next_cursor = encode_cursor("all-runs", more) if more is not None else None
    return RunPage(items=[RunOut.of(r) for r in items], next_cursor=next_cursor)


@router.get("/incidents/{incident_id}/runs", response_model=RunPage, responses=_ERRORS)
def list_runs(
    incident_id: str,
    runtime: RuntimeDep,
    _: Reader,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> RunPage:
    """An incident's playbook runs, newest first."""
    runs = runtime.engine.list_runs(incident_id)
    page, next_cursor = slice_page(runs, lambda r: r.id, "runs", limit, cursor)
    return RunPage(items=[RunOut.of(r) for r in page], next_cursor=next_cursor)


@router.post(
    "/incidents/{incident_id}/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    responses=_ERRORS,
)
def start_run(
    incident_id: str,
    runtime: RuntimeDep,
    who: Responder,
    body: Annotated[StartRunIn | None, Body()] = None,
) -> RunOut:
    """Start a run by hand (409 if this playbook is already running for the incident)."""
    req = body or StartRunIn()
    run = runtime.engine.start_run(
        incident_id, who.name, playbook=req.playbook, dry_run=req.dry_run
    )
    return RunOut.of(run)


@router.get("/runs/{run_id}", response_model=RunOut, responses=_ERRORS)
def get_run(run_id: str, runtime: RuntimeDep, _: Reader) -> RunOut:
    return RunOut.of(runtime.engine.get_run(run_id))


@router.post("/runs/{run_id}/cancel", response_model=RunOut, responses=_ERRORS)
def cancel_run(run_id: str, runtime: RuntimeDep, who: Responder) -> RunOut:
    """Cancel an active run: the step in flight is interrupted, later steps never start."""
    return RunOut.of(runtime.engine.cancel(run_id, who.name))


@router.post("/runs/{run_id}/steps/{step}/retry", response_model=RunOut, responses=_ERRORS)
def retry_step(run_id: str, step: str, runtime: RuntimeDep, who: Responder) -> RunOut:
    """Run a failed or timed-out step of an ended run again, then the steps it cut short."""
    run = runtime.engine.get_run(run_id)
    return RunOut.of(runtime.engine.retry_step(run_id, _step_index(run, step), who.name))


def _decide(
    run_id: str, step: str, approve: bool, runtime: Any, who: Principal, body: DecisionIn | None
) -> RunOut:
    run = runtime.engine.get_run(run_id)
    try:
        runtime.engine.decide(
            run_id,
            _step_index(run, step),
            approve=approve,
            actor=who.name,
            role=who.role.value,
            note=body.note if body else None,
        )
    except PermissionError as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    return RunOut.of(runtime.engine.get_run(run_id))


@router.post("/runs/{run_id}/steps/{step}/approve", response_model=RunOut, responses=_ERRORS)
def approve_step(
    run_id: str,
    step: str,
    runtime: RuntimeDep,
    who: Reader,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> RunOut:
    """Approve a step waiting for approval; the token needs the step's role (or admin)."""
    return _decide(run_id, step, True, runtime, who, body)


@router.post("/runs/{run_id}/steps/{step}/reject", response_model=RunOut, responses=_ERRORS)
def reject_step(
    run_id: str,
    step: str,
    runtime: RuntimeDep,
    who: Reader,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> RunOut:
    """Refuse a step waiting for approval (it is skipped); the token needs the step's role."""
    return _decide(run_id, step, False, runtime, who, body)
