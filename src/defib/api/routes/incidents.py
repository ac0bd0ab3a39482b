"""Incident routes: thin translations between HTTP and IncidentService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from defib.api.deps import Reader, Responder, RuntimeDep
from defib.api.errors import error_responses
from defib.api.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    decode_int_cursor,
    encode_cursor,
    slice_page,
)
from defib.api.schemas import (
    AlertSeriesOut,
    AlertSeriesPage,
    DeclareIn,
    EventOut,
    IncidentOut,
    IncidentPage,
    NoteIn,
    PatchIn,
    RetypeIn,
    TimelinePage,
    TransitionIn,
)
from defib.incidents.lifecycle import IncidentDraft, IncidentPatch
from defib.model import (
    MAX_ID,
    Command,
    IncidentType,
    Severity,
    Status,
    format_incident_id,
    parse_incident_id,
)
from defib.store.incidents import IncidentFilter

router = APIRouter(prefix="/incidents", tags=["incidents"])

_ERRORS = error_responses(404, d404="no such incident")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IncidentOut, responses=_ERRORS)
def declare_incident(body: DeclareIn, runtime: RuntimeDep, who: Responder) -> IncidentOut:
    """Declare an incident by hand."""
    incident = runtime.incidents.declare(
        IncidentDraft(
            type=body.type,
            severity=body.severity,
            title=body.title,
            description=body.description,
            affected_systems=body.affected_systems,
            labels=body.labels,
            commander=body.commander,
        ),
        actor=who.name,
    )
    return IncidentOut.of(incident)


@router.get("", response_model=IncidentPage, responses=_ERRORS)
def list_incidents(
    runtime: RuntimeDep,
    _: Reader,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    type_: Annotated[list[IncidentType] | None, Query(alias="type")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    system: Annotated[str | None, Query(max_length=200)] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> IncidentPage:
    """Incidents, newest first; filters combine with AND, repeated values with OR."""
    items, next_cursor = runtime.incidents.search(
        IncidentFilter(
            status=status_ or (), type=type_ or (), severity=severity or (), system=system
        ),
        limit=limit,
        cursor=cursor,
    )
    return IncidentPage(items=[IncidentOut.of(i) for i in items], next_cursor=next_cursor)


@router.get("/{incident_id}", response_model=IncidentOut, responses=_ERRORS)
def get_incident(incident_id: str, runtime: RuntimeDep, _: Reader) -> IncidentOut:
    return IncidentOut.of(runtime.incidents.get(incident_id))


@router.patch("/{incident_id}", response_model=IncidentOut, responses=_ERRORS)
def patch_incident(
    incident_id: str, body: PatchIn, runtime: RuntimeDep, who: Responder
) -> IncidentOut:
    """Change title, description, severity or commander; each change lands on the timeline."""
    incident = runtime.incidents.patch(
        incident_id,
        IncidentPatch(
            title=body.title,
            severity=body.severity,
            commander=body.commander,
            description=body.description,
        ),
        actor=who.name,
    )
    return IncidentOut.of(incident)


def _transition_route(command: Command) -> None:
    def handler(
        incident_id: str, runtime: RuntimeDep, who: Responder, body: TransitionIn | None = None
    ) -> IncidentOut:
        note = body.note if body else None
        return IncidentOut.of(runtime.incidents.apply(incident_id, command, who.name, note))

    handler.__name__ = f"{command.value}_incident"
    handler.__doc__ = (
        f"{command.value.capitalize()} the incident (409 if the lifecycle forbids it)."
    )
    router.add_api_route(
        f"/{{incident_id}}/{command.value}",
        handler,
        methods=["POST"],
        response_model=IncidentOut,
        responses=error_responses(404, 409, d404="no such incident", d409="illegal transition"),
    )


for _command in Command:
    _transition_route(_command)


@router.post(
    "/{incident_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=EventOut,
    responses=_ERRORS,
)
def add_note(incident_id: str, body: NoteIn, runtime: RuntimeDep, who: Responder) -> EventOut:
    event = runtime.incidents.add_note(incident_id, body.text, who.name)
    return EventOut.of(format_incident_id(parse_incident_id(incident_id)), event)


@router.post(
    "/{incident_id}/retype",
    response_model=IncidentOut,
    responses=error_responses(
        404, 409, d404="no such incident", d409="the incident is not open (reopen it first)"
    ),
)
def retype_incident(
    incident_id: str, body: RetypeIn, runtime: RuntimeDep, who: Responder
) -> IncidentOut:
    """Set the incident's type (answering a `needs_triage` incident, or correcting one).

    The timeline records who and why, the severity follows the policy for the new type,
    and the new type's playbook is planned.
    """
    incident = runtime.incidents.retype(incident_id, body.type, body.reason, who.name)
    return IncidentOut.of(incident)


@router.get("/{incident_id}/timeline", response_model=TimelinePage, responses=_ERRORS)
def get_timeline(
    incident_id: str,
    runtime: RuntimeDep,
    _: Reader,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Only events with a larger id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many events.")] = 1000,
    cursor: CursorQuery = None,
) -> TimelinePage:
    """The incident's append-only timeline, oldest first.

    The last page's `next_cursor` is null; to follow new events, pass the last id seen as
    `after`.
    """
    start = decode_int_cursor("timeline", cursor) if cursor is not None else None
    if after is not None:
        start = after if start is None else max(start, after)
    events = runtime.incidents.timeline(incident_id, after_id=start, limit=limit + 1)
    canonical = format_incident_id(parse_incident_id(incident_id))
    page = events[:limit]
    more = len(events) > limit
    next_cursor = encode_cursor("timeline", page[-1].id or 0) if more else None
    return TimelinePage(items=[EventOut.of(canonical, e) for e in page], next_cursor=next_cursor)


@router.get("/{incident_id}/alerts", response_model=AlertSeriesPage, responses=_ERRORS)
def get_incident_alerts(
    incident_id: str,
    runtime: RuntimeDep,
    _: Reader,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> AlertSeriesPage:
    """The alerts the incident holds (one per source series: an Alertmanager label set, a
    PagerDuty dedup_key, ...), each with its own state (`firing`). A resolve clears only its
    own series."""
    series = runtime.incidents.alert_series(incident_id)
    page, next_cursor = slice_page(series, lambda a: a.key, "alerts", limit, cursor)
    return AlertSeriesPage(
        items=[AlertSeriesOut(key=a.key, firing=a.firing, changed_at=a.changed_at) for a in page],
        next_cursor=next_cursor,
    )
