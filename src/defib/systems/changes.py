"""A person's change to a system's controls: the API's `PUT /systems/{name}/state` and the
console's confirmed controls, one use case for both.

The change is checked against the system's configuration (an `http`-controlled system's
routing and filters live in its own control plane: `ControlConflict`), the kill switch of
such a system is sent to its control plane first (signed, keyed; `ControlPlaneFailed`), and
the state is then applied through `ControlService.put` in one transaction.

Errors (all `DomainError`s):
    ControlConflict       not changeable here (409 in the API)
    InvalidControl        a filter or version the state cannot take (422)
    ControlPlaneFailed    the team's control plane refused or could not be reached (502)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from defib.config import Settings, SystemConfig
from defib.integrations.base import DeliveryFailed, RetryPolicy
from defib.integrations.control_plane import ControlPlane
from defib.model import DomainError, InvalidInput, NotFound, format_incident_id
from defib.systems.control import Change, ControlService, Owner
from defib.systems.state import OutputFilter, StateError


class ControlConflict(DomainError):
    code = "conflict"


class InvalidControl(InvalidInput):
    code = "invalid"


class ControlPlaneFailed(DomainError):
    code = "bad_gateway"


@dataclass(frozen=True, slots=True)
class StateRequest:
    """What a person asks of a system at once (every field optional)."""

    disabled: bool | None = None
    reason: str = ""
    force: bool = False
    active_version: str | None = None
    # Replace every output filter with these (raw, as the API takes them).
    filters: list[dict[str, Any]] | None = None
    clear_filters_of: int | None = None
    incident_seq: int | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    change: Change
    # The control plane's answer, for http-controlled systems whose kill switch was sent.
    control_plane: dict[str, Any] | None = None


def request_filters(raw: list[dict[str, Any]], seq: int | None, actor: str) -> list[OutputFilter]:
    out = []
    for i, item in enumerate(raw):
        data = dict(item)
        if "id" not in data:
            # A stable id from the content, so the same request twice adds nothing twice.
            digest = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:12]
            data["id"] = f"api:{actor}:{digest}"
        data.setdefault("incident_seq", seq)
        try:
            out.append(OutputFilter.from_dict(data))
        except StateError as exc:
            raise InvalidControl(f"filters[{i}].{exc}") from exc
    return out


class SystemChanges:
    """People's changes to systems; built once by the Runtime."""

    def __init__(
        self,
        settings: Settings,
        control: ControlService,
        http_client: Callable[[], httpx.AsyncClient],
        secrets: Mapping[str, str],
    ) -> None:
        self.settings = settings
        self.control = control
        self.http_client = http_client
        self.secrets = secrets
        r = settings.notifications.retries
        self.retry = RetryPolicy(r.attempts, r.backoff_seconds, r.max_backoff_seconds)

    def system(self, name: str) -> SystemConfig:
        system = self.settings.system(name)
        if system is None:
            raise NotFound(f"no system {name!r} in the systems: config")
        return system

    async def put(self, name: str, request: StateRequest, actor: str) -> StateChange:
        """Apply `request` to the system `name` for `actor`; see the module's errors."""
        system = self.system(name)
        seq, clear_of = request.incident_seq, request.clear_filters_of
        if system.control.kind == "http" and (request.filters is not None or clear_of is not None):
            raise ControlConflict(
                f"{name}: output filters of an http-controlled system live in its own control plane"
            )
        if system.registry.kind != "gateway" and request.active_version is not None:
            raise ControlConflict(
                f"{name}: its registry is {system.registry.kind}; roll it back there"
                " (or with the rollback_model action)"
            )
        filters = (
            request_filters(request.filters, seq, actor) if request.filters is not None else None
        )
        plane: dict[str, Any] | None = None
        if system.control.kind == "http" and request.disabled is not None:
            plane = await self._send_switch(system, request, actor)
        try:
            change = await asyncio.to_thread(
                lambda: self.control.put(
                    name,
                    Owner(actor, seq),
                    disabled=request.disabled,
                    reason=request.reason,
                    force=request.force,
                    active_version=request.active_version,
                    filters=filters,
                    clear_filters_of=clear_of,
                )
            )
        except StateError as exc:
            raise InvalidControl(str(exc)) from exc
        return StateChange(change, plane)

    async def _send_switch(
        self, system: SystemConfig, request: StateRequest, actor: str
    ) -> dict[str, Any]:
        action = "disable" if request.disabled else "enable"
        seq = request.incident_seq
        incident = format_incident_id(seq) if seq is not None else ""
        # One key per person, system, action and reason: a retried request is recognised.
        key = (
            "api:"
            + hashlib.sha256(
                f"{actor}|{system.name}|{action}|{incident}|{request.reason}".encode()
            ).hexdigest()[:24]
        )
        what = f"systems[{system.name}].control.secret_env"
        secret_env = system.control.secret_env
        secret = self.secrets.get(secret_env) if secret_env else None
        if secret_env and secret is None:
            raise ControlPlaneFailed(f"{what}: ${secret_env} is not set")
        assert system.control.url is not None  # the config requires it for kind http
        async with self.http_client() as client:
            plane = ControlPlane(client, system.control.url, secret, self.retry)
            try:
                return dict(
                    await plane.command(action, system.name, incident, key, reason=request.reason)
                )
            except DeliveryFailed as exc:
                raise ControlPlaneFailed(f"{system.name}: control {action} failed: {exc}") from exc
