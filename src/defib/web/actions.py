"""What a responder does from an incident's page. Each form carries the session's CSRF
token, and each act goes through the same service call as the REST API, under the
signed-in token's name and role: hiding a button is a courtesy, this is the check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from defib.auth import Permission
from defib.incidents.lifecycle import IncidentPatch
from defib.model import (
    Command,
    DomainError,
    IncidentType,
    Severity,
    format_incident_id,
    parse_incident_id,
)
from defib.web.deps import Refused, ViewerDep, read_form, runtime_of
from defib.web.render import fragment, redirect

router = APIRouter(include_in_schema=False)


async def _act(request: Request, back: str, work: Callable[[], Any], done: str) -> Response:
    """Run `work` in a thread; come back to `back` saying what happened (or what refused it)."""
    try:
        await run_in_threadpool(work)
    except PermissionError as exc:
        raise Refused(str(exc)) from exc
    except DomainError as exc:
        return redirect(request, back, str(exc), "error")
    return redirect(request, back, done)


def _canonical(incident_id: str) -> str:
    return format_incident_id(parse_incident_id(incident_id))


@router.post("/incidents/{incident_id}/transition")
async def transition(request: Request, incident_id: str, viewer: ViewerDep) -> Response:
    form = await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "change an incident's status")
    iid = _canonical(incident_id)
    try:
        command = Command(form.get("command", ""))
    except ValueError:
        return redirect(request, f"/incidents/{iid}", "unknown command", "error")
    runtime = runtime_of(request)
    note = form.get("note", "").strip() or None
    return await _act(
        request,
        f"/incidents/{iid}",
        lambda: runtime.incidents.apply(iid, command, viewer.principal.name, note),
        f"{iid}: {command.value} done.",
    )


@router.post("/incidents/{incident_id}/patch")
async def patch(request: Request, incident_id: str, viewer: ViewerDep) -> Response:
    form = await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "change an incident")
    iid = _canonical(incident_id)
    severity: Severity | None = None
    if form.get("severity"):
        try:
            severity = Severity(form["severity"])
        except ValueError:
            return redirect(request, f"/incidents/{iid}", "unknown severity", "error")
    commander = form.get("commander")
    change = IncidentPatch(
        severity=severity, commander=commander[:200] if commander is not None else None
    )
    runtime = runtime_of(request)
    return await _act(
        request,
        f"/incidents/{iid}",
        lambda: runtime.incidents.patch(iid, change, viewer.principal.name),
        f"{iid} updated.",
    )


@router.post("/incidents/{incident_id}/retype")
async def retype(request: Request, incident_id: str, viewer: ViewerDep) -> Response:
    """Answer a needs-triage incident (or correct a type); same call as the REST API."""
    form = await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "retype an incident")
    iid = _canonical(incident_id)
    try:
        new_type = IncidentType(form.get("type", ""))
    except ValueError:
        return redirect(request, f"/incidents/{iid}", "unknown incident type", "error")
    runtime = runtime_of(request)
    reason = form.get("reason", "")
    return await _act(
        request,
        f"/incidents/{iid}",
        lambda: runtime.incidents.retype(iid, new_type, reason, viewer.principal.name),
        f"{iid} is now {new_type.value}.",
    )


@router.post("/incidents/{incident_id}/notes")
async def note(request: Request, incident_id: str, viewer: ViewerDep) -> Response:
    form = await read_form(request, viewer)
    viewer.require(Permission.RESPOND, "add notes")
    iid = _canonical(incident_id)
    runtime = runtime_of(request)
    text = form.get("text", "")
    return await _act(
        request,
        f"/incidents/{iid}",
        lambda: runtime.incidents.add_note(iid, text, viewer.principal.name),
        "Note added.",
    )


@router.post("/runs/{run_id}/steps/{index}/decide")
async def decide(request: Request, run_id: str, index: int, viewer: ViewerDep) -> Response:
    """Approve or reject a waiting step; the engine checks the step's role, as for the API."""
    form = await read_form(request, viewer)
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        raise Refused("decision must be approve or reject")
    runtime = runtime_of(request)
    run = await run_in_threadpool(runtime.engine.get_run, run_id)
    back = form.get("back") if form.get("back") in ("/approvals",) else None
    back = back or f"/incidents/{format_incident_id(run.incident_seq)}"
    note_text = form.get("note", "").strip() or None
    step = run.steps[index].name if 0 <= index < len(run.steps) else str(index)
    return await _act(
        request,
        back,
        lambda: runtime.engine.decide(
            run_id,
            index,
            approve=decision == "approve",
            actor=viewer.principal.name,
            role=viewer.principal.role.value,
            note=note_text,
        ),
        f"Step {step} {'approved' if decision == 'approve' else 'rejected'}.",
    )


@router.get("/incidents/{incident_id}/verify")
async def verify(request: Request, incident_id: str, viewer: ViewerDep) -> Response:
    """Recompute the evidence chain (a read: any signed-in viewer may)."""
    seq = parse_incident_id(incident_id)
    runtime = runtime_of(request)
    report = await run_in_threadpool(runtime.evidence.verify, seq)
    return fragment("_verify.html", report=report.to_dict())
