"""The on-call page: who holds each schedule now, its shifts for the coming weeks, the
overrides; add an override; delete one.

Every change goes through `OncallService.add_override/delete_override`, as the API and the
CLI do, under the signed-in token's name and with the same checks (a known schedule and
person, times in order, at most 90 days); the service's words are the page's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from defib.auth import Permission
from defib.bootstrap import Runtime
from defib.model import DomainError, InvalidInput
from defib.oncall import Override, Shift
from defib.oncall.service import OnCall
from defib.web.deps import ViewerDep, read_form, runtime_of
from defib.web.render import page, redirect

router = APIRouter(include_in_schema=False)

# How far ahead the page shows each schedule's shifts.
AHEAD = timedelta(weeks=4)
# Shifts shown per schedule (a layer with daily hours makes two a day).
MAX_SHIFTS_SHOWN = 120


@dataclass(frozen=True, slots=True)
class ScheduleView:
    name: str
    time_zone: str
    now: OnCall
    shifts: list[Shift]
    more: int  # shifts in the period beyond those shown


def parse_time(value: str, key: str) -> datetime:
    """An ISO-8601 time from the form; without a zone it means UTC, as on the CLI (pure)."""
    text = value.strip()
    if not text:
        raise InvalidInput(f"{key}: give a time (e.g. 2026-12-24T18:00+01:00)")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise InvalidInput(f"{key}: {text!r} is not a time (e.g. 2026-12-24T18:00+01:00)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _context(runtime: Runtime) -> dict[str, Any]:
    service = runtime.oncall
    now = service.clock()
    views: list[ScheduleView] = []
    for current in service.on_call(None, now):
        schedule = service.schedule(current.schedule)
        period = service.rotation(current.schedule, now, now + AHEAD)
        views.append(
            ScheduleView(
                current.schedule,
                schedule.time_zone,
                current,
                period[:MAX_SHIFTS_SHOWN],
                max(0, len(period) - MAX_SHIFTS_SHOWN),
            )
        )
    # Past overrides stay in the store (and the API's list); the page shows what still counts.
    overrides: list[Override] = [o for o in service.overrides() if o.end > now]
    overrides.sort(key=lambda o: (o.start, o.schedule))
    return {
        "schedules": views,
        "overrides": overrides,
        "people": sorted(service.directory.people),
        "now": now,
        "weeks": AHEAD.days // 7,
    }


@router.get("/oncall")
async def oncall_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    context = await run_in_threadpool(_context, runtime_of(request))
    return page(request, "oncall.html", viewer, nav="oncall", **context)


@router.post("/oncall/overrides")
async def create_override(request: Request, viewer: ViewerDep) -> Response:
    form = await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "add an on-call override")
    service = runtime_of(request).oncall
    try:
        start = parse_time(form.get("start", ""), "start")
        end = parse_time(form.get("end", ""), "end")
        made = await run_in_threadpool(
            service.add_override,
            form.get("schedule", "").strip(),
            form.get("person", "").strip(),
            start,
            end,
            viewer.principal.name,
            form.get("comment", "").strip(),
        )
    except DomainError as exc:
        return redirect(request, "/oncall", f"Override not added: {exc}", "error")
    return redirect(
        request,
        "/oncall",
        f"Override added: {made.person} holds {made.schedule} "
        f"from {made.start.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
        f"until {made.end.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
    )


@router.post("/oncall/overrides/{override_id}/delete")
async def delete_override(request: Request, override_id: str, viewer: ViewerDep) -> Response:
    await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "delete an on-call override")
    service = runtime_of(request).oncall
    try:
        await run_in_threadpool(service.delete_override, override_id)
    except DomainError as exc:
        return redirect(request, "/oncall", str(exc), "error")
    return redirect(request, "/oncall", f"Override {override_id} deleted.")
