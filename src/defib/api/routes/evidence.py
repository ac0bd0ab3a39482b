"""Evidence routes: list an incident's items, verify the chain, show one item.

Content is shown redacted (PII and secrets masked) unless `?raw=true`, which only admins may.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from defib.api.deps import Reader, RuntimeDep
from defib.api.errors import ApiError
from defib.auth import Permission
from defib.evidence import EvidenceService
from defib.evidence.service import public_item
from defib.model import format_incident_id, parse_incident_id

router = APIRouter(tags=["evidence"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid token"},
    403: {"description": "the token's role may not do this (raw content is for admins)"},
    404: {"description": "no such incident or evidence item"},
}


class EvidenceList(BaseModel):
    incident_id: str
    head: str | None
    items: list[dict[str, Any]]


class VerifyOut(BaseModel):
    incident_id: str
    ok: bool
    items: int
    head: str | None
    first_broken: dict[str, Any] | None
    broken: list[dict[str, Any]]


def _service(runtime: RuntimeDep) -> EvidenceService:
    return EvidenceService(runtime.db, runtime.settings.data_dir)


@router.get("/incidents/{incident_id}/evidence", response_model=EvidenceList, responses=_ERRORS)
async def list_evidence(incident_id: str, runtime: RuntimeDep, _: Reader) -> EvidenceList:
    """An incident's evidence items (metadata only), in chain order."""
    seq = parse_incident_id(incident_id)
    items = await run_in_threadpool(_service(runtime).list, seq)
    return EvidenceList(
        incident_id=format_incident_id(seq),
        head=str(items[-1]["chain_hash"]) if items else None,
        items=[public_item(i) for i in items],
    )


@router.get("/incidents/{incident_id}/evidence/verify", response_model=VerifyOut, responses=_ERRORS)
async def verify_evidence(incident_id: str, runtime: RuntimeDep, _: Reader) -> VerifyOut:
    """Recompute every item's SHA-256 and the chain; name the first broken item."""
    seq = parse_incident_id(incident_id)
    report = await run_in_threadpool(_service(runtime).verify, seq)
    return VerifyOut(incident_id=format_incident_id(seq), **report.to_dict())


@router.get("/incidents/{incident_id}/evidence/{n}", responses=_ERRORS)
async def show_evidence(
    incident_id: str,
    n: int,
    runtime: RuntimeDep,
    who: Reader,
    raw: bool = Query(default=False, description="Unredacted content (admins only)."),
) -> dict[str, Any]:
    """One item with its content, PII masked unless `raw` (admins only)."""
    if raw and not who.can(Permission.ADMIN):
        raise ApiError(
            403,
            "forbidden",
            f"token {who.name!r} has role {who.role.value}; raw evidence is for admins",
        )
    seq = parse_incident_id(incident_id)
    view = await run_in_threadpool(_service(runtime).show, seq, n, raw=raw)
    return view.to_dict()
