"""Evidence routes: list an incident's items, verify the chain, show one item.

Content is shown redacted (PII and secrets masked) unless `?raw=true`, which only admins may.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from defib.api.deps import Reader, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, slice_page
from defib.api.schemas import Timestamp
from defib.auth import Permission
from defib.evidence import EvidenceService
from defib.evidence.service import public_item
from defib.model import format_incident_id, parse_incident_id

router = APIRouter(tags=["evidence"])

_ERRORS = error_responses(
    404,
    d403="the token's role may not do this (raw content is for admins)",
    d404="no such incident or evidence item",
)


class EvidenceItemOut(BaseModel):
    """One item's metadata and its place in the incident's hash chain."""

    incident_id: str
    n: int = Field(description="Position in the chain, from 1.")
    kind: str
    name: str
    media_type: str
    size: int
    sha256: str
    prev_hash: str | None
    chain_hash: str
    collected_at: Timestamp
    collected_by: str
    meta: dict[str, Any]


class EvidencePage(Page[EvidenceItemOut]):
    """An incident's evidence, in chain order (the chain's head is the last item's hash)."""


class EvidenceView(EvidenceItemOut):
    redacted: bool = Field(description="PII and secrets masked (false only with `raw`).")
    redactions: dict[str, int] = Field(description="How many of each kind were masked.")
    content: str | None = Field(description="The content as text; null when withheld.")
    content_base64: str | None = Field(description="Binary content, raw only.")


class BrokenOut(BaseModel):
    n: int
    name: str
    reason: str


class AnchorOut(BaseModel):
    checkpoints: int = Field(description="Signed checkpoints of this incident's chain.")
    anchored_items: int = Field(description="Items a signed checkpoint vouches for.")
    pending_items: list[int] = Field(
        default_factory=list,
        description="Items not yet anchored whose collecting step is still running (any "
        "other unanchored item is a failure).",
    )
    newest_checkpoint_at: str | None = Field(
        description="When the newest checkpoint was signed (RFC 3339, UTC)."
    )
    trust: str = Field(
        default="own key",
        description="Which public keys counted: `pinned` (evidence_anchor.trusted_keys), "
        "`database` (every key registered there), `own key`.",
    )
    warnings: list[str] = Field(
        default_factory=list, description="Skipped checkpoint lines (torn writes) and the like."
    )


class VerifyOut(BaseModel):
    incident_id: str
    ok: bool
    items: int = Field(description="How many items were checked.")
    head: str | None = Field(description="The last item's chain hash; null without evidence.")
    first_broken: BrokenOut | None
    broken: list[BrokenOut]
    anchor: AnchorOut | None = Field(
        default=None,
        description="The check against the signed checkpoints outside the database (null "
        "when anchoring is off).",
    )
    deleted: bool = Field(
        default=False,
        description="No items because a signed retention purge deleted them (not: nothing "
        "collected yet).",
    )


def _service(runtime: RuntimeDep) -> EvidenceService:
    return runtime.evidence


@router.get("/incidents/{incident_id}/evidence", response_model=EvidencePage, responses=_ERRORS)
async def list_evidence(
    incident_id: str,
    runtime: RuntimeDep,
    _: Reader,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> EvidencePage:
    """An incident's evidence items (metadata only), in chain order."""
    seq = parse_incident_id(incident_id)
    items = await run_in_threadpool(_service(runtime).list, seq)
    page, next_cursor = slice_page(items, lambda i: int(i["n"]), "evidence", limit, cursor)
    return EvidencePage(
        items=[EvidenceItemOut.model_validate(public_item(i)) for i in page],
        next_cursor=next_cursor,
    )


@router.get("/incidents/{incident_id}/evidence/verify", response_model=VerifyOut, responses=_ERRORS)
async def verify_evidence(incident_id: str, runtime: RuntimeDep, _: Reader) -> VerifyOut:
    """Recompute every item's SHA-256 and the chain; name the first broken item."""
    seq = parse_incident_id(incident_id)
    report = await run_in_threadpool(_service(runtime).verify, seq)
    return VerifyOut(incident_id=format_incident_id(seq), **report.to_dict())


@router.get("/incidents/{incident_id}/evidence/{n}", response_model=EvidenceView, responses=_ERRORS)
async def show_evidence(
    incident_id: str,
    n: Annotated[int, Path(ge=0, description="The item's number.")],
    runtime: RuntimeDep,
    who: Reader,
    raw: bool = Query(default=False, description="Unredacted content (admins only)."),
) -> EvidenceView:
    """One item with its content, PII masked unless `raw` (admins only)."""
    if raw and not who.can(Permission.ADMIN):
        raise ApiError(
            403,
            "forbidden",
            f"token {who.name!r} has role {who.role.value}; raw evidence is for admins",
        )
    seq = parse_incident_id(incident_id)
    view = await run_in_threadpool(_service(runtime).show, seq, n, raw=raw)
    return EvidenceView.model_validate(view.to_dict())
