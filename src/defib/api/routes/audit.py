"""The audit log: who changed silences, and data leaks told to security while silenced."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from defib.api.deps import Reader, RuntimeDep
from defib.api.errors import error_responses
from defib.api.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    decode_int_cursor,
    encode_cursor,
)
from defib.api.schemas import Timestamp

router = APIRouter(prefix="/audit", tags=["audit"])
_TAG = "audit"


class AuditOut(BaseModel):
    id: int
    at: Timestamp
    actor: str = Field(description="The token's name (or `config`, or the alert's source).")
    kind: str = Field(
        description="silence_added, silence_updated, silence_expired, data_leak_silenced,"
        " data_leak_silenced_reported"
    )
    subject: str = Field(description="A silence id, or a silenced alert's dedup key.")
    data: dict[str, Any]


class AuditPage(Page[AuditOut]):
    pass


@router.get("", response_model=AuditPage, responses=error_responses())
async def list_audit(
    runtime: RuntimeDep,
    _: Reader,
    kind: Annotated[str | None, Query(max_length=64, description="Only this kind.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> AuditPage:
    """Newest first."""
    before = decode_int_cursor(_TAG, cursor) if cursor else None
    found = await run_in_threadpool(
        runtime.silences.audit, kind=kind, before=before, limit=limit + 1
    )
    page = found[:limit]
    items = [
        AuditOut(
            id=e.id or 0, at=e.at, actor=e.actor, kind=e.kind, subject=e.subject, data=dict(e.data)
        )
        for e in page
    ]
    more = len(found) > limit and page
    return AuditPage(
        items=items, next_cursor=encode_cursor(_TAG, page[-1].id or 0) if more else None
    )
