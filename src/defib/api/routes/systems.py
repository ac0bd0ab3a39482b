"""System routes: what defib enforces on each protected system, and its model versions.

Reads for viewers; changes (kill switch, routing, output filters, version marks) for
responders, through `defib.systems.control` (one transaction each, on the owning incident's
timeline when `incident` is given). For a system whose `control.kind` is `http`, the kill
switch is also sent to the team's control plane (signed, keyed); routing and filters of
such systems are changed there, not here (409).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from defib.api.deps import Reader, Responder, RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, slice_page
from defib.api.schemas import Timestamp
from defib.bootstrap import Runtime
from defib.config import SystemConfig
from defib.integrations.base import mask_url
from defib.model import NotFound, parse_incident_id
from defib.systems.changes import (
    ControlConflict,
    ControlPlaneFailed,
    InvalidControl,
    StateRequest,
)
from defib.systems.control import Owner
from defib.systems.state import SystemState, VersionStatus

router = APIRouter(prefix="/systems", tags=["systems"])

_ERRORS = error_responses(404, d404="no such system, version or incident")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateIn(_In):
    disabled: bool | None = Field(default=None, description="Turn the kill switch on or off.")
    reason: str = Field(default="", max_length=2000)
    force: bool = Field(
        default=False, description="Lift a kill switch another incident set (with `incident`)."
    )
    active_version: str | None = Field(default=None, max_length=200)
    filters: list[dict[str, Any]] | None = Field(
        default=None, max_length=200, description="Replace every output filter with these."
    )
    clear_filters_of: str | None = Field(
        default=None, description="Remove the filters an incident added (INC-n)."
    )
    incident: str | None = Field(default=None, description="The incident that owns the change.")


class VersionIn(_In):
    status: Literal["good", "bad", "unknown"]
    note: str = Field(default="", max_length=2000)
    incident: str | None = None


class FilterOut(BaseModel):
    id: str
    kind: Literal["pattern", "detector"]
    action: Literal["block", "redact"]
    pattern: str | None
    detector: str | None
    threshold: float
    incident_seq: int | None = Field(description="The incident that added it, if any.")
    note: str


class StateOut(BaseModel):
    """What defib enforces on a system."""

    system: str
    disabled: bool = Field(description="The kill switch is on.")
    disabled_by: int | None = Field(description="The incident (number) that disabled it.")
    disabled_reason: str
    active_version: str | None
    filters: list[FilterOut]
    revision: int = Field(description="Grows by one with every change.")
    updated_at: Timestamp | None
    updated_by: str


class VersionOut(BaseModel):
    system: str
    name: str
    ordinal: int = Field(description="Position among the system's versions, oldest first.")
    status: Literal["good", "bad", "unknown"]
    marked_by: str | None
    marked_at: Timestamp | None
    note: str
    first_served_at: Timestamp | None
    last_served_at: Timestamp | None


class SystemSummary(BaseModel):
    name: str
    tier: int = Field(description="1 = most critical.")
    control: str = Field(description="How the kill switch is applied: gateway or http.")
    registry: str = Field(description="Where versions live: gateway, mlflow, ...")
    state: StateOut


class SystemPage(Page[SystemSummary]):
    """Configured systems, in configuration order."""


class SystemDetail(BaseModel):
    name: str
    config: dict[str, Any] = Field(description="Its `systems:` entry, URLs masked.")
    state: StateOut
    versions: list[VersionOut]


class StateChangeOut(BaseModel):
    state: StateOut
    changed: bool = Field(description="False when the state already was so.")
    repeated: bool = Field(description="A repeat of a change already applied under its key.")
    control_plane: dict[str, Any] | None = Field(
        default=None, description="The control plane's answer, for http-controlled systems."
    )


def _public_config(system: SystemConfig) -> dict[str, Any]:
    data = system.model_dump(mode="json", exclude={"gateway"})
    owners = data["owners"]
    if owners.get("slack_webhook"):
        owners["slack_webhook"] = mask_url(owners["slack_webhook"])
    for hook in owners.get("webhooks", []):
        hook["url"] = mask_url(hook["url"])
    if data["control"].get("url"):
        data["control"]["url"] = mask_url(data["control"]["url"])
    if data["registry"].get("url"):
        data["registry"]["url"] = mask_url(data["registry"]["url"])
    return data


def _system(runtime: Runtime, name: str) -> SystemConfig:
    system = runtime.settings.system(name)
    if system is None:
        raise NotFound(f"no system {name!r} in the systems: config")
    return system


def _seq(incident: str | None) -> int | None:
    return parse_incident_id(incident) if incident is not None else None


@router.get("", response_model=SystemPage, responses=_ERRORS)
def list_systems(
    runtime: RuntimeDep, _: Reader, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
) -> SystemPage:
    """Every configured system with its enforced state."""
    control = runtime.control
    states = {s.system: s for s in control.states()}
    page, next_cursor = slice_page(
        runtime.settings.systems, lambda s: s.name, "systems", limit, cursor
    )
    items = []
    for system in page:
        state = states.get(system.name) or SystemState(system.name)
        items.append(
            SystemSummary(
                name=system.name,
                tier=system.tier,
                control=system.control.kind,
                registry=system.registry.kind,
                state=StateOut.model_validate(state.to_dict()),
            )
        )
    return SystemPage(items=items, next_cursor=next_cursor)


@router.get("/{name}", response_model=SystemDetail, responses=_ERRORS)
def get_system(name: str, runtime: RuntimeDep, _: Reader) -> SystemDetail:
    """One system: its configuration (URLs masked), enforced state and model versions."""
    system = _system(runtime, name)
    control = runtime.control
    state = control.state(name) or SystemState(name)
    return SystemDetail(
        name=name,
        config=_public_config(system),
        state=StateOut.model_validate(state.to_dict()),
        versions=[VersionOut.model_validate(v.to_dict()) for v in control.versions(name)],
    )


@router.put(
    "/{name}/state",
    response_model=StateChangeOut,
    responses=error_responses(
        404, 409, 502, d404="no such system or incident", d409="not changeable here"
    ),
)
async def put_state(
    name: str, body: StateIn, runtime: RuntimeDep, who: Responder
) -> StateChangeOut:
    """Change what defib enforces on a system; returns the state and whether it changed."""
    _system(runtime, name)  # 404 before the body's incident ids are read
    request = StateRequest(
        disabled=body.disabled,
        reason=body.reason,
        force=body.force,
        active_version=body.active_version,
        filters=body.filters,
        clear_filters_of=_seq(body.clear_filters_of),
        incident_seq=_seq(body.incident),
    )
    try:
        done = await runtime.system_changes.put(name, request, who.name)
    except ControlConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except InvalidControl as exc:
        raise ApiError(422, "invalid", str(exc)) from exc
    except ControlPlaneFailed as exc:
        raise ApiError(502, "bad_gateway", str(exc)) from exc
    return StateChangeOut.model_validate(
        {**done.change.to_dict(), "control_plane": done.control_plane}
    )


@router.post("/{name}/versions/{version}", response_model=VersionOut, responses=_ERRORS)
def mark_version(
    name: str, version: str, body: VersionIn, runtime: RuntimeDep, who: Responder
) -> VersionOut:
    """Mark a model version good, bad or unknown (rollback_model reads the marks)."""
    _system(runtime, name)
    marked = runtime.control.mark_version(
        name, version, VersionStatus(body.status), Owner(who.name, _seq(body.incident)), body.note
    )
    return VersionOut.model_validate(marked.to_dict())
