"""Steps waiting for a person's decision, across incidents (oldest first)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from defib.api.deps import Reader, RuntimeDep
from defib.api.errors import error_responses
from defib.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, slice_page
from defib.api.schemas import Timestamp
from defib.bootstrap import Runtime
from defib.model import Severity, format_incident_id
from defib.store import console as console_repo

router = APIRouter(tags=["runs"])

_ERRORS = error_responses(d422="a bad limit or cursor")

# Waiting steps are few (each is a person's to-do), so they are read at once and paged here.
MAX_WAITING = 5000


class ApprovalOut(BaseModel):
    incident_id: str
    incident_title: str
    incident_severity: Severity
    run_id: str
    step_index: int
    step: str
    action: str
    role: str = Field(description="The role needed to decide (admins always may).")
    asks: str = Field(description="What approving lets the step do.")
    waiting_since: Timestamp | None
    deadline_at: Timestamp | None


class ApprovalPage(Page[ApprovalOut]):
    """Steps waiting for a decision, oldest first."""


def _waiting(runtime: Runtime) -> list[console_repo.WaitingStep]:
    with runtime.db.read() as conn:
        return console_repo.waiting_steps(conn, limit=MAX_WAITING)


@router.get("/approvals", response_model=ApprovalPage, responses=_ERRORS)
async def list_approvals(
    runtime: RuntimeDep,
    _: Reader,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> ApprovalPage:
    """Every playbook step waiting for approval, oldest first, with its deadline."""
    steps = await run_in_threadpool(_waiting, runtime)
    # Keyed by run and step, not position: a decision taken between two pages shifts nothing.
    page, next_cursor = slice_page(
        steps, lambda s: f"{s.run_id}/{s.index}", "approvals", limit, cursor
    )
    return ApprovalPage(
        items=[
            ApprovalOut(
                incident_id=format_incident_id(s.incident_seq),
                incident_title=s.incident_title,
                incident_severity=s.incident_severity,
                run_id=s.run_id,
                step_index=s.index,
                step=s.name,
                action=s.action,
                role=s.role,
                asks=s.asks,
                waiting_since=s.waiting_since,
                deadline_at=s.deadline_at,
            )
            for s in page
        ],
        next_cursor=next_cursor,
    )
