"""The silences page: what is muted now and what each silence mutes; add one; expire one.

Every change goes through `SilenceService.put/expire`, as the Alertmanager-compatible API
does, under the signed-in token's name (it becomes `createdBy`) and role (a broad or long
silence needs an admin; the service says so and the page shows its words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from defib.auth import Permission
from defib.bootstrap import Runtime
from defib.model import OPEN_STATUSES, DomainError, Incident
from defib.silences import parse_matchers
from defib.silences.matchers import matches_all
from defib.silences.model import Silence
from defib.silences.service import NeedsAdmin, SilenceDraft, incident_sets
from defib.store.incidents import IncidentFilter
from defib.web.deps import ViewerDep, read_form, runtime_of
from defib.web.render import page, redirect

router = APIRouter(include_in_schema=False)

# The durations the form offers; longer ones need an admin (silences.max_duration_hours).
DURATIONS_HOURS = (1, 2, 4, 8, 12, 24, 48, 72, 168)
EXPIRED_SHOWN = 50
_SEPARATORS = re.compile(r"[\n;]+")


@dataclass(frozen=True, slots=True)
class SilenceRow:
    silence: Silence
    state: str
    mutes: list[Incident]  # the open incidents it covers now


def parse_form_matchers(text: str) -> list[str]:
    """One matcher per line (or `;`-separated), e.g. `system="support-bot"` (pure)."""
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]


def _rows(runtime: Runtime, now: datetime) -> tuple[list[SilenceRow], list[SilenceRow]]:
    silences = runtime.silences.search()
    found, _ = runtime.incidents.search(IncidentFilter(status=list(OPEN_STATUSES)), limit=500)
    live: list[SilenceRow] = []
    expired: list[SilenceRow] = []
    for s in silences:
        state = s.state(now)
        if state == "expired":
            if len(expired) < EXPIRED_SHOWN:
                expired.append(SilenceRow(s, state, []))
            continue
        mutes = [
            i for i in found if any(matches_all(s.matchers, labels) for labels in incident_sets(i))
        ]
        live.append(SilenceRow(s, state, mutes))
    # Active before pending; each by when it ends.
    live.sort(key=lambda r: (r.state != "active", r.silence.ends_at))
    return live, expired


def _context(runtime: Runtime) -> dict[str, Any]:
    now = runtime.silences.clock()
    live, expired = _rows(runtime, now)
    return {
        "live": live,
        "expired": expired,
        "now": now,
        "durations": DURATIONS_HOURS,
        "max_hours": runtime.settings.silences.max_duration_hours,
    }


@router.get("/silences")
async def silences_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    context = await run_in_threadpool(_context, runtime_of(request))
    return page(request, "silences.html", viewer, nav="silences", **context)


@router.post("/silences")
async def create_silence(request: Request, viewer: ViewerDep) -> Response:
    form = await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "add a silence")
    runtime = runtime_of(request)
    try:
        hours = float(form.get("hours", "") or "0")
    except ValueError:
        hours = 0
    if not 0 < hours <= 24 * 366:
        return redirect(request, "/silences", "duration: a number of hours above 0", "error")
    comment = form.get("comment", "").strip()
    if not comment:
        return redirect(request, "/silences", "comment: say why (it is shown to everyone)", "error")
    now = runtime.silences.clock()
    try:
        draft = SilenceDraft(
            matchers=parse_matchers(parse_form_matchers(form.get("matchers", ""))),
            starts_at=now,
            ends_at=now + timedelta(hours=hours),
            created_by=viewer.principal.name,
            comment=comment,
        )
        admin = viewer.principal.can(Permission.ADMIN)
        silence = await run_in_threadpool(
            runtime.silences.put, draft, viewer.principal.name, admin=admin
        )
    except NeedsAdmin as exc:
        return redirect(request, "/silences", f"Needs an admin: {exc}", "error")
    except DomainError as exc:
        return redirect(request, "/silences", str(exc), "error")
    return redirect(request, "/silences", f"Silence {silence.id} added: {silence.text}.")


@router.post("/silences/{silence_id}/expire")
async def expire_silence(request: Request, silence_id: str, viewer: ViewerDep) -> Response:
    await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "expire a silence")
    runtime = runtime_of(request)
    try:
        silence = await run_in_threadpool(
            runtime.silences.expire, silence_id, viewer.principal.name
        )
    except DomainError as exc:
        return redirect(request, "/silences", str(exc), "error")
    return redirect(request, "/silences", f"Silence {silence.id} expired: {silence.text}.")
