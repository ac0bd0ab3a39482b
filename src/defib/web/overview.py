"""The cross-incident pages: approvals waiting, systems (with their controls), recent alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from defib.auth import Permission
from defib.bootstrap import Runtime
from defib.model import DomainError, format_incident_id, parse_incident_id
from defib.playbooks.engine import role_allows
from defib.store import console as console_repo
from defib.systems.changes import StateRequest
from defib.systems.state import SystemState
from defib.web.deps import PageNotFound, ViewerDep, read_form, runtime_of
from defib.web.render import fragment, page, redirect
from defib.web.views import alert_title

router = APIRouter(include_in_schema=False)

ALERTS_PAGE = 100


# -- approvals ---------------------------------------------------------------------------


def _approvals(runtime: Runtime, role: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        steps = console_repo.waiting_steps(conn)
    return {
        "steps": [(s, role_allows(role, s.role)) for s in steps],
        "now": runtime.now(),
    }


@router.get("/approvals")
async def approvals(request: Request, viewer: ViewerDep) -> HTMLResponse:
    context = await run_in_threadpool(_approvals, runtime_of(request), viewer.principal.role.value)
    return page(request, "approvals.html", viewer, nav="approvals", **context)


@router.get("/fragments/approvals")
async def approvals_fragment(request: Request, viewer: ViewerDep) -> HTMLResponse:
    context = await run_in_threadpool(_approvals, runtime_of(request), viewer.principal.role.value)
    return fragment("_approvals.html", csrf=viewer.session.csrf, **context)


# -- systems -----------------------------------------------------------------------------

# What each control does, for the confirmation page.
CONTROLS = {
    "disable": "Disable (kill switch): the gateway refuses every request to {name}.",
    "enable": "Enable {name} again: the gateway serves it.",
    "route": "Route {name} to version {version}: every request goes to that version.",
    "clear": "Clear the output filters {incident} added to {name}.",
}


def _systems(runtime: Runtime) -> list[dict[str, Any]]:
    control = runtime.control
    states = {s.system: s for s in control.states()}
    out = []
    for system in runtime.settings.systems:
        state = states.get(system.name) or SystemState(system.name)
        owners = sorted({f.incident_seq for f in state.filters if f.incident_seq is not None})
        out.append(
            {
                "config": system,
                "state": state,
                "versions": control.versions(system.name),
                "disabled_by": format_incident_id(state.disabled_by)
                if state.disabled_by is not None
                else None,
                "filter_owners": [format_incident_id(s) for s in owners],
            }
        )
    return out


@router.get("/systems")
async def systems(request: Request, viewer: ViewerDep) -> HTMLResponse:
    items = await run_in_threadpool(_systems, runtime_of(request))
    return page(request, "systems.html", viewer, nav="systems", systems=items)


@router.get("/fragments/systems")
async def systems_fragment(request: Request, viewer: ViewerDep) -> HTMLResponse:
    items = await run_in_threadpool(_systems, runtime_of(request))
    return fragment(
        "_systems.html", systems=items, csrf=viewer.session.csrf, can_respond=viewer.can_respond
    )


def _control_request(request: Request, name: str, values: dict[str, str]) -> dict[str, str]:
    runtime = runtime_of(request)
    if runtime.settings.system(name) is None:
        raise PageNotFound(f"no system {name!r} in the systems: config")
    action = values.get("action", "")
    if action not in CONTROLS:
        raise PageNotFound(f"no control {action!r}")
    return {
        "action": action,
        "version": values.get("version", "")[:200],
        "incident": values.get("incident", "").strip()[:40],
        "reason": values.get("reason", "")[:2000],
    }


@router.get("/systems/{name}/confirm")
async def confirm_control(request: Request, name: str, viewer: ViewerDep) -> HTMLResponse:
    """Every system control asks once more, saying exactly what it will do."""
    viewer.require(Permission.RESPOND, "change a system")
    asked = _control_request(request, name, dict(request.query_params))
    what = CONTROLS[asked["action"]].format(
        name=name, version=asked["version"], incident=asked["incident"] or "the incident"
    )
    return page(request, "confirm.html", viewer, nav="systems", name=name, asked=asked, what=what)


@router.post("/systems/{name}/control")
async def control(request: Request, name: str, viewer: ViewerDep) -> Response:
    """Apply a confirmed control: the same use case as the API's PUT /systems/{name}/state."""
    form = await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "change a system")
    asked = _control_request(request, name, form)
    try:
        seq = parse_incident_id(asked["incident"]) if asked["incident"] else None
        wanted = {
            "disable": StateRequest(disabled=True, reason=asked["reason"], incident_seq=seq),
            "enable": StateRequest(disabled=False, incident_seq=seq, force=seq is None),
            "route": StateRequest(active_version=asked["version"] or None, incident_seq=seq),
            "clear": StateRequest(clear_filters_of=seq, incident_seq=seq),
        }[asked["action"]]
        done = await runtime_of(request).system_changes.put(name, wanted, viewer.principal.name)
    except DomainError as exc:
        return redirect(request, "/systems", f"{name}: {exc}", "error")
    if not done.change.changed:
        return redirect(request, "/systems", f"{name}: nothing to change.")
    return redirect(request, "/systems", f"{name}: {asked['action']} done.")


# -- alerts ------------------------------------------------------------------------------


def _alerts(runtime: Runtime, before: int | None) -> dict[str, Any]:
    with runtime.db.read() as conn:
        rows = console_repo.recent_alerts(conn, limit=ALERTS_PAGE + 1, before_id=before)
    more = len(rows) > ALERTS_PAGE
    rows = rows[:ALERTS_PAGE]
    items = [
        {
            **{k: v for k, v in r.items() if k != "payload"},
            "title": alert_title(r["payload"] if isinstance(r["payload"], dict) else {}),
            "incident_id": format_incident_id(r["incident_seq"]) if r["incident_seq"] else None,
        }
        for r in rows
    ]
    return {
        "alerts": items,
        "next_before": rows[-1]["id"] if more and rows else None,
        "now": runtime.now(),
    }


@router.get("/alerts")
async def alerts(request: Request, viewer: ViewerDep) -> HTMLResponse:
    raw = request.query_params.get("before", "")
    # Bounded: a longer number overflows the database's 64-bit ids into a 500 (issue 25).
    before = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    context = await run_in_threadpool(_alerts, runtime_of(request), before)
    return page(request, "alerts.html", viewer, nav="alerts", **context)


@router.get("/fragments/alerts")
async def alerts_fragment(request: Request, viewer: ViewerDep) -> HTMLResponse:
    context = await run_in_threadpool(_alerts, runtime_of(request), None)
    return fragment("_alerts.html", **context)
