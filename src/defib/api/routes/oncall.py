"""Who is on call, the rotation ahead, overrides, and an iCal feed per schedule.

Calendar apps cannot send a bearer token: the `.ics` feed also takes a reader token as
`?token=` (it then appears in the calendar app's settings and any proxy's logs; use a
reader token made for it, or put a proxy that adds the header in front).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from defib.api.deps import Reader, Responder, RuntimeDep, get_principal
from defib.api.errors import ApiError, error_responses
from defib.api.pagination import CursorQuery, LimitQuery, Page, slice_page
from defib.auth import Permission, Principal
from defib.model import InvalidInput
from defib.oncall import Override

router = APIRouter(prefix="/oncall", tags=["on call"])


class OnCallOut(BaseModel):
    schedule: str
    at: datetime
    person: str | None = Field(description="null: nobody is on call")
    source: str = Field(description='"rotation <n>", "override <id>" or "nobody"')
    shift_start: datetime
    shift_end: datetime


class OnCallPage(Page[OnCallOut]):
    pass


class ShiftOut(BaseModel):
    person: str | None
    start: datetime
    end: datetime
    source: str


class ShiftPage(Page[ShiftOut]):
    pass


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str = Field(min_length=1, max_length=100)
    person: str = Field(min_length=1, max_length=100)
    start: datetime = Field(description="With a time zone, e.g. 2026-12-24T18:00:00+01:00")
    end: datetime
    comment: str = Field(default="", max_length=2000)


class OverrideOut(BaseModel):
    id: str
    schedule: str
    person: str
    start: datetime
    end: datetime
    created_by: str
    created_at: datetime | None


class OverridePage(Page[OverrideOut]):
    pass


def _override(o: Override) -> OverrideOut:
    return OverrideOut(
        id=o.id,
        schedule=o.schedule,
        person=o.person,
        start=o.start,
        end=o.end,
        created_by=o.created_by,
        created_at=o.created_at,
    )


def _aware(at: datetime | None, key: str) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise InvalidInput(f"{key}: give a time zone (e.g. 2026-12-24T18:00:00Z)")
    return at


@router.get("", response_model=OnCallPage, responses=error_responses(404))
async def list_on_call(
    runtime: RuntimeDep,
    _: Reader,
    schedule: Annotated[str | None, Query(max_length=100)] = None,
    at: Annotated[datetime | None, Query(description="Default: now")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> OnCallPage:
    """Who is on call now (or `at`), for one schedule or each configured one."""
    found = await run_in_threadpool(runtime.oncall.on_call, schedule, _aware(at, "at"))
    items = [
        OnCallOut(
            schedule=o.schedule,
            at=o.at,
            person=o.person,
            source=o.source,
            shift_start=o.start,
            shift_end=o.end,
        )
        for o in found
    ]
    page, next_cursor = slice_page(items, lambda o: o.schedule, "oncall", limit, cursor)
    return OnCallPage(items=page, next_cursor=next_cursor)


@router.get("/overrides", response_model=OverridePage, responses=error_responses())
async def list_overrides(
    runtime: RuntimeDep,
    _: Reader,
    schedule: Annotated[str | None, Query(max_length=100)] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> OverridePage:
    """Overrides not deleted (past ones included), by start."""
    found = await run_in_threadpool(runtime.oncall.overrides, schedule)
    items = [_override(o) for o in found]
    page, next_cursor = slice_page(items, lambda o: o.id, "overrides", limit, cursor)
    return OverridePage(items=page, next_cursor=next_cursor)


@router.post(
    "/overrides", response_model=OverrideOut, status_code=201, responses=error_responses(404)
)
async def create_override(body: OverrideIn, runtime: RuntimeDep, who: Responder) -> OverrideOut:
    """Put `person` on call for `schedule` from `start` to `end`, over every rotation."""
    made = await run_in_threadpool(
        runtime.oncall.add_override,
        body.schedule,
        body.person,
        body.start,
        body.end,
        who.name,
        body.comment,
    )
    return _override(made)


@router.delete(
    "/overrides/{override_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, non_json_route=True),
)
async def delete_override(override_id: str, runtime: RuntimeDep, _: Responder) -> Response:
    await run_in_threadpool(runtime.oncall.delete_override, override_id)
    return Response(status_code=204)


@router.get("/{schedule}/shifts", response_model=ShiftPage, responses=error_responses(404))
async def list_shifts(
    schedule: str,
    runtime: RuntimeDep,
    _: Reader,
    start: Annotated[datetime | None, Query(alias="from", description="Default: now")] = None,
    until: Annotated[datetime | None, Query(description="Default: 4 weeks after from")] = None,
    limit: LimitQuery = 200,
    cursor: CursorQuery = None,
) -> ShiftPage:
    """The rotation from `from` to `until`: who holds each shift, and why."""
    begin = _aware(start, "from") or runtime.oncall.clock()
    end = _aware(until, "until") or begin + timedelta(weeks=4)
    found = await run_in_threadpool(runtime.oncall.rotation, schedule, begin, end)
    items = [ShiftOut(person=s.person, start=s.start, end=s.end, source=s.source) for s in found]
    page, next_cursor = slice_page(
        items, lambda s: int(s.start.astimezone(UTC).timestamp()), "shifts", limit, cursor
    )
    return ShiftPage(items=page, next_cursor=next_cursor)


ICS_MEDIA_TYPE = "text/calendar"


class IcsResponse(Response):
    media_type = ICS_MEDIA_TYPE


@router.get(
    "/{schedule}.ics",
    response_class=IcsResponse,
    responses={
        200: {"content": {ICS_MEDIA_TYPE: {}}, "description": "the schedule's shifts"},
        **error_responses(404, non_json_route=True),
    },
)
async def schedule_ical(
    schedule: str,
    request: Request,
    runtime: RuntimeDep,
    token: Annotated[
        str | None, Query(max_length=200, description="A reader token, for calendar apps")
    ] = None,
) -> Response:
    """The schedule as an iCalendar feed: 2 weeks back, 12 weeks ahead."""
    principal = await _feed_principal(request, runtime, token)
    if not principal.can(Permission.READ):
        raise ApiError(403, "forbidden", f"token {principal.name!r} may not read")
    text = await run_in_threadpool(
        runtime.oncall.ical, schedule, past=timedelta(weeks=2), ahead=timedelta(weeks=12)
    )
    return IcsResponse(
        text,
        headers={"Content-Disposition": f'inline; filename="{schedule}.ics"'},
    )


async def _feed_principal(request: Request, runtime: RuntimeDep, token: str | None) -> Principal:
    if token is None or not request.app.state.auth_enabled:
        from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

        creds: HTTPAuthorizationCredentials | None = await HTTPBearer(auto_error=False)(request)
        return await get_principal(request, creds)
    principal = await run_in_threadpool(runtime.tokens.lookup, token)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or revoked token")
    return principal
