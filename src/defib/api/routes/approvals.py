"""Steps waiting for a person's decision, across incidents (oldest first)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from defib.api.deps import Reader, RuntimeDep
from defib.bootstrap import Runtime
from defib.model import InvalidInput, Severity, format_incident_id
from defib.store import console as console_repo

router = APIRouter(tags=["runs"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid token"},
    403: {"description": "the token's role may not do this"},
    422: {"description": "a bad limit or cursor"},
}

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
    waiting_since: datetime | None
    deadline_at: datetime | None


class ApprovalPage(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("cursor: not a cursor this server handed out") from exc
    kind, _, value = raw.partition(":")
    if kind != "a" or not value.isdigit():
        raise InvalidInput("cursor: not a cursor this server handed out")
    return int(value)


def _waiting(runtime: Runtime) -> list[console_repo.WaitingStep]:
    with runtime.db.read() as conn:
        return console_repo.waiting_steps(conn, limit=MAX_WAITING)


@router.get("/approvals", response_model=ApprovalPage, responses=_ERRORS)
async def list_approvals(
    runtime: RuntimeDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ApprovalPage:
    """Every playbook step waiting for approval, oldest first, with its deadline."""
    start = _offset(cursor)
    steps = await run_in_threadpool(_waiting, runtime)
    page = steps[start : start + limit]
    more = start + limit < len(steps)
    next_cursor = (
        base64.urlsafe_b64encode(f"a:{start + limit}".encode()).decode().rstrip("=")
        if more
        else None
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
