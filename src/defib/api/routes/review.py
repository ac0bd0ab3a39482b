"""Review routes: taxonomy mapping, review fields, the postmortem, the response report."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from defib.api.deps import Reader, Responder, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.schemas import Timestamp
from defib.incidents.report import build_report, parse_since
from defib.postmortem import aiid
from defib.postmortem.render import render
from defib.store import metrics as metrics_repo
from defib.taxonomy import load_catalogue

router = APIRouter(tags=["review"])

_ERRORS = error_responses(404, d404="no such incident")
_REPORT_ERRORS = error_responses()


class Entry(BaseModel):
    id: str
    name: str


class SourceOut(BaseModel):
    name: str
    version: str
    url: str


class TaxonomyOut(BaseModel):
    incident_id: str
    owasp_llm: list[Entry]
    mitre_atlas: list[Entry]
    nist_ai_600_1: list[Entry]
    basis: list[str] = Field(description="default:<type>, evidence:<refinement>, or edited")
    edited_by: str | None
    edited_at: Timestamp | None
    sources: dict[str, SourceOut]


class TaxonomyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owasp_llm: list[str] = Field(default_factory=list, examples=[["LLM02"]])
    mitre_atlas: list[str] = Field(default_factory=list, examples=[["AML.T0057"]])
    nist_ai_600_1: list[str] = Field(default_factory=list, examples=[["data_privacy"]])


class ActionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)
    owner: str | None = Field(default=None, max_length=200)
    done: bool = False


class ReviewIn(BaseModel):
    """Fields left out stay as they are; a list given replaces the stored one."""

    model_config = ConfigDict(extra="forbid")
    summary: str | None = Field(default=None, max_length=20000)
    contributing_factors: list[str] | None = None
    lessons: list[str] | None = None
    action_items: list[ActionItem] | None = None


class ReviewOut(BaseModel):
    incident_id: str
    summary: str
    contributing_factors: list[str]
    lessons: list[str]
    action_items: list[ActionItem]
    updated_by: str | None
    updated_at: Timestamp | None


class Postmortem(BaseModel):
    """The postmortem document (docs/postmortem.md describes every field)."""

    model_config = ConfigDict(extra="allow")
    schema_version: int
    generated_at: str
    incident: dict[str, Any]
    summary: str
    impact: dict[str, Any] | None
    durations: dict[str, Any]
    mitigated_by: str | None
    timeline: list[dict[str, Any]]
    playbook_runs: list[dict[str, Any]]
    people: list[dict[str, Any]]
    evidence: dict[str, Any]
    taxonomy: dict[str, Any]
    review: dict[str, Any]


class Stat(BaseModel):
    count: int
    mean: float | None
    p50: float | None
    p90: float | None


class GroupStats(BaseModel):
    incidents: int
    mtta: Stat
    mttm: Stat
    mttr: Stat


class TypeSeverityStats(GroupStats):
    type: str
    severity: str


class SystemCount(BaseModel):
    system: str
    incidents: int


class Mitigations(BaseModel):
    total: int
    by_playbook: int
    by_person: int
    playbook_share: float | None


class ResponseReport(BaseModel):
    since: datetime | None
    until: datetime
    overall: GroupStats
    by_type_severity: list[TypeSeverityStats]
    top_systems: list[SystemCount]
    reopen_rate: float | None
    reopened: int
    mitigated: Mitigations


@router.get("/incidents/{incident_id}/taxonomy", response_model=TaxonomyOut, responses=_ERRORS)
async def get_taxonomy(incident_id: str, runtime: RuntimeDep, _: Reader) -> TaxonomyOut:
    """OWASP LLM Top 10, MITRE ATLAS and NIST AI 600-1 mapping (defaults refined by evidence)."""
    mapping = await run_in_threadpool(runtime.review.taxonomy, incident_id)
    data = mapping.to_dict(load_catalogue())
    return TaxonomyOut(incident_id=incident_id.upper(), **data)


@router.put("/incidents/{incident_id}/taxonomy", response_model=TaxonomyOut, responses=_ERRORS)
async def put_taxonomy(
    incident_id: str, body: TaxonomyIn, runtime: RuntimeDep, who: Responder
) -> TaxonomyOut:
    """Replace the mapping (ids from the catalogue); recorded on the timeline."""
    mapping = await run_in_threadpool(
        runtime.review.set_taxonomy, incident_id, body.model_dump(), who.name
    )
    return TaxonomyOut(incident_id=incident_id.upper(), **mapping.to_dict(load_catalogue()))


@router.get("/incidents/{incident_id}/review", response_model=ReviewOut, responses=_ERRORS)
async def get_review(incident_id: str, runtime: RuntimeDep, _: Reader) -> ReviewOut:
    """The review fields a responder edits: summary, factors, lessons, action items."""
    review = await run_in_threadpool(runtime.review.review, incident_id)
    return ReviewOut(incident_id=incident_id.upper(), **review)


@router.patch("/incidents/{incident_id}/review", response_model=ReviewOut, responses=_ERRORS)
async def patch_review(
    incident_id: str, body: ReviewIn, runtime: RuntimeDep, who: Responder
) -> ReviewOut:
    """Change review fields; recorded on the timeline."""
    change = body.model_dump(exclude_unset=True)
    review = await run_in_threadpool(runtime.review.update_review, incident_id, change, who.name)
    return ReviewOut(incident_id=incident_id.upper(), **review)


_MEDIA = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}


@router.get(
    "/incidents/{incident_id}/postmortem",
    response_model=Postmortem,
    responses={
        **error_responses(404, d404="no such incident", non_json_route=True),
        200: {
            "description": "JSON (default), the AIID export, Markdown or HTML",
            "content": {
                "application/json": {},
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
    },
)
async def get_postmortem(
    incident_id: str,
    runtime: RuntimeDep,
    _: Reader,
    format: Literal["json", "md", "html", "aiid"] = Query(
        default="json", description="json, md, html, or aiid (AI Incident Database report)."
    ),
) -> Any:
    """The postmortem: summary, impact, timeline and durations, playbook, people, evidence,
    taxonomy, review."""
    doc = await run_in_threadpool(runtime.postmortems.build, incident_id)
    if format in _MEDIA:
        return Response(render(doc, format), media_type=_MEDIA[format])
    if format == "aiid":
        settings = runtime.settings
        url = settings.incident_link(doc["incident"]["id"]) + "/postmortem?format=md"
        body = aiid.export(doc, render(doc, "md"), organisation="defib", url=url)
        return Response(orjson.dumps(body), media_type="application/json")
    return Postmortem(**doc)


@router.get(
    "/reports/response",
    response_model=ResponseReport,
    responses=_REPORT_ERRORS,
)
async def response_report(
    runtime: RuntimeDep,
    _: Reader,
    since: str = Query(default="30d", description="A period back from now: 30d, 12h, 2w."),
) -> ResponseReport:
    """Counts, MTTA/MTTM/MTTR (p50, p90) per type and severity, top systems, reopen rate,
    incidents mitigated by the playbook alone versus by a person."""
    try:
        window = parse_since(since)
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from exc
    now = runtime.incidents.clock()

    def read() -> list[metrics_repo.ReportRow]:
        with runtime.db.read() as conn:
            return metrics_repo.report_rows(conn, now - window)

    rows = await run_in_threadpool(read)
    return ResponseReport(**build_report(rows, since=now - window, now=now))
