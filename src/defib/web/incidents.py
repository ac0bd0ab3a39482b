"""The incident list and an incident's page (full pages and the fragments htmx polls)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from defib.bootstrap import Runtime
from defib.events import TimelineKind
from defib.evidence.service import public_item
from defib.incidents import story
from defib.model import (
    Incident,
    IncidentType,
    InvalidInput,
    NotFound,
    Severity,
    Status,
    parse_incident_id,
)
from defib.playbooks.engine import role_allows
from defib.playbooks.runs import Run, RunStatus
from defib.store import alerts as alert_repo
from defib.store import console as console_repo
from defib.store import impact as impact_repo
from defib.store import waiting as waiting_repo
from defib.store.incidents import IncidentFilter
from defib.systems.state import SystemState
from defib.web.deps import PageNotFound, Viewer, ViewerDep, runtime_of
from defib.web.render import fragment, page, redirect
from defib.web.views import (
    ListCursor,
    alert_details,
    durations,
    legal_commands,
    split_statuses,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
E = TypeVar("E", bound=StrEnum)


def _enums(kind: type[E], values: Iterable[str]) -> list[E]:
    """Known values only: a stale bookmark with an unknown filter still opens."""
    out = []
    for v in values:
        try:
            out.append(kind(v))
        except ValueError:
            continue
    return out


@dataclass(frozen=True, slots=True)
class ListQuery:
    status: list[Status]
    type: list[IncidentType]
    severity: list[Severity]
    system: str | None
    cursor: str | None

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        q = request.query_params
        return cls(
            status=_enums(Status, q.getlist("status")),
            type=_enums(IncidentType, q.getlist("type")),
            severity=_enums(Severity, q.getlist("severity")),
            system=(q.get("system") or "").strip()[:200] or None,
            cursor=q.get("cursor") or None,
        )

    def params(self, cursor: str | None = None) -> str:
        pairs: list[tuple[str, str]] = [("status", s.value) for s in self.status]
        pairs += [("type", t.value) for t in self.type]
        pairs += [("severity", s.value) for s in self.severity]
        if self.system:
            pairs.append(("system", self.system))
        if cursor:
            pairs.append(("cursor", cursor))
        return urlencode(pairs)


@dataclass
class IncidentList:
    items: list[Incident]
    next_cursor: str | None
    counts: dict[Severity, int] = field(default_factory=dict)
    # Why an open incident waits for a person (approval, needs_attention, failed,
    # unacknowledged, triage); absent when it waits for nobody.
    waiting: dict[int, str] = field(default_factory=dict)


# The first page shows every open incident at once (up to this many), in urgency order:
# they are few, and an order by urgency cannot be cut into pages by a time cursor.
OPEN_AT_ONCE = 500


def _waiting_reasons(runs_waiting: dict[int, str], items: Iterable[Incident]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in items:
        if not i.status.is_open:
            continue
        if i.seq in runs_waiting:
            out[i.seq] = runs_waiting[i.seq]
        elif i.status is Status.DETECTED:
            out[i.seq] = "unacknowledged"
        elif i.needs_triage:
            out[i.seq] = "triage"
    return out


def load_list(runtime: Runtime, query: ListQuery, limit: int = PAGE_SIZE) -> IncidentList:
    """One page: open incidents first, most urgent first (`story.urgency_key`), then the
    rest (newest first)."""
    open_statuses, rest_statuses = split_statuses(query.status)
    cursor = ListCursor.decode(query.cursor)
    items: list[Incident] = []
    next_cursor: str | None = None

    def search(
        statuses: list[Status], inner: str | None, n: int
    ) -> tuple[list[Incident], str | None]:
        flt = IncidentFilter(
            status=statuses, type=query.type, severity=query.severity, system=query.system
        )
        return runtime.incidents.search(flt, limit=n, cursor=inner)

    with runtime.db.read() as conn:
        runs_waiting = waiting_repo.incidents_waiting(conn)
    if cursor.phase == "open" and open_statuses:
        first = cursor.inner is None
        items, inner = search(open_statuses, cursor.inner, OPEN_AT_ONCE if first else limit)
        if first:
            waits = _waiting_reasons(runs_waiting, items)
            items.sort(
                key=lambda i: story.urgency_key(
                    status=i.status.value,
                    severity=i.severity.value,
                    detected_at=i.detected_at,
                    waiting=i.seq in waits,
                )
            )
        if inner is not None:
            next_cursor = ListCursor("open", inner).encode()
        elif rest_statuses and len(items) >= limit:
            next_cursor = ListCursor("rest", None).encode()
    if next_cursor is None and rest_statuses and len(items) < limit:
        start = cursor.inner if cursor.phase == "rest" else None
        more, inner = search(rest_statuses, start, limit - len(items))
        items += more
        if inner is not None:
            next_cursor = ListCursor("rest", inner).encode()
    with runtime.db.read() as conn:
        counts = console_repo.open_counts_by_severity(conn)
    return IncidentList(
        items=items,
        next_cursor=next_cursor,
        counts=counts,
        waiting=_waiting_reasons(runs_waiting, items),
    )


def _list_context(runtime: Runtime, request: Request) -> dict[str, Any]:
    query = ListQuery.of(request)
    listing = load_list(runtime, query)
    return {
        "query": query,
        "listing": listing,
        "now": runtime.now(),
        "statuses": list(Status),
        "types": list(IncidentType),
        "severities": list(Severity),
        "systems": [s.name for s in runtime.settings.systems],
        "next_url": f"/?{query.params(listing.next_cursor)}" if listing.next_cursor else None,
        "poll_url": f"/fragments/incidents?{query.params(query.cursor)}",
    }


@router.get("/")
async def incident_list(request: Request, viewer: ViewerDep) -> Response:
    try:
        context = await run_in_threadpool(_list_context, runtime_of(request), request)
    except InvalidInput as exc:
        # A cursor from another server or an edited URL: start from the first page.
        return redirect(request, "/", str(exc), "error")
    return page(request, "incidents.html", viewer, nav="incidents", **context)


@router.get("/fragments/incidents")
async def incident_list_fragment(request: Request, viewer: ViewerDep) -> HTMLResponse:
    context = await run_in_threadpool(_list_context, runtime_of(request), request)
    return fragment("_incident_table.html", **context)


# -- one incident ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiting:
    """A step of a run waiting for a decision, and whether this viewer may decide it."""

    run_id: str
    index: int
    name: str
    role: str
    asks: str
    deadline_at: datetime | None
    may_decide: bool


def _waiting(run: Run, events: list[Any], viewer: Viewer) -> list[Waiting]:
    out = []
    for step in run.steps:
        if step.status is not RunStatus.WAITING_APPROVAL:
            continue
        try:
            role = str(run.spec["steps"][step.index]["approval"]["role"])
        except (KeyError, IndexError, TypeError):
            role = "responder"
        asks = next(
            (
                str(e.data.get("asks") or "")
                for e in reversed(events)
                if e.kind == TimelineKind.STEP_WAITING_APPROVAL
                and e.data.get("run_id") == run.id
                and e.data.get("index") == step.index
            ),
            "",
        )
        out.append(
            Waiting(
                run_id=run.id,
                index=step.index,
                name=step.name,
                role=role,
                asks=asks,
                deadline_at=step.deadline_at,
                may_decide=role_allows(viewer.principal.role.value, role),
            )
        )
    return out


# The page's live parts: each fragment loads only what it shows.
HEAD, MAIN, SIDE = "head", "main", "side"
ALL_PARTS = frozenset({HEAD, MAIN, SIDE})


def load_incident(
    runtime: Runtime, incident_id: str, viewer: Viewer, parts: frozenset[str] = ALL_PARTS
) -> dict[str, Any]:
    incident = runtime.incidents.get(incident_id)
    now = runtime.now()
    context: dict[str, Any] = {
        "incident": incident,
        "now": now,
        "durations": durations(incident, now),
        "commands": legal_commands(incident.status),
        "severities": list(Severity),
        "types": list(IncidentType),
    }
    if parts & {HEAD, MAIN}:
        # The header tells the story too (what defib did, what waits), so both read it.
        events = runtime.incidents.timeline(incident.id, limit=5000)
        runs = runtime.engine.list_runs(incident.id)
        lines = story.tell(events)
        context["lines"] = list(reversed(lines))
        context["done"] = story.what_was_done(lines)
        context["runs"] = runs
        context["waiting"] = {run.id: _waiting(run, events, viewer) for run in runs}
        context["asks"] = story.waiting_for_you(
            status=incident.status.value, needs_triage=incident.needs_triage, runs=runs
        )
    if HEAD in parts:
        with runtime.db.read() as conn:
            stored = alert_repo.alerts_of_incident(conn, incident.seq, limit=200)
        context["alerts"] = [
            (row.received_at, row.source, alert_details(row.payload or {})) for row in stored
        ]
        context["series"] = runtime.incidents.alert_series(incident.id)
    if SIDE in parts:
        evidence = runtime.evidence.list(incident.seq)
        with runtime.db.read() as conn:
            context["impact"] = impact_repo.get_impact(conn, incident.seq)
        states = {s.system: s for s in runtime.control.states()}
        configured = {s.name for s in runtime.settings.systems}
        context["evidence"] = [public_item(i) for i in evidence]
        context["systems"] = [
            (name, states.get(name) or SystemState(name), name in configured)
            for name in incident.affected_systems
        ]
    return context


async def _incident_context(
    request: Request, incident_id: str, viewer: Viewer, parts: frozenset[str] = ALL_PARTS
) -> dict[str, Any]:
    try:
        parse_incident_id(incident_id)
        return await run_in_threadpool(
            load_incident, runtime_of(request), incident_id, viewer, parts
        )
    except (NotFound, InvalidInput) as exc:
        raise PageNotFound(str(exc)) from exc


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: str, viewer: ViewerDep) -> HTMLResponse:
    context = await _incident_context(request, incident_id, viewer)
    return page(request, "incident.html", viewer, nav="incidents", **context)


@router.get("/incidents/{incident_id}/fragments/{part}")
async def incident_part(
    request: Request, incident_id: str, part: str, viewer: ViewerDep
) -> HTMLResponse:
    """One live part of the page (htmx polls each every few seconds)."""
    if part not in ALL_PARTS:
        raise PageNotFound(f"no part {part!r}")
    context = await _incident_context(request, incident_id, viewer, frozenset({part}))
    return fragment(
        f"_incident_{part}.html",
        csrf=viewer.session.csrf,
        can_respond=viewer.can_respond,
        **context,
    )
