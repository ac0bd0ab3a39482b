"""`rollback_model`: route each affected system back to its previous known-good version.

Known-good (`defib.systems.state.previous_known_good`): the newest version older than the
active one that is marked good, or that served `registry.good_after_seconds` without an
incident touching the system (service periods from `model_versions.first/last_served_at`);
never one marked bad. Deployed by `registry.kind`: `gateway` re-routes defib's gateway
(the state's `active_version`), `mlflow` re-points the registered model's alias (extra
`defib[mlflow]`), `http` POSTs a signed `{"action": "rollback", "from_version",
"to_version", ...}` to `registry.url`. In every case the state row records the version now
served and the version rolled away from is marked bad, in one transaction.

The choice is recorded on the timeline (`run_step_rollback_planned`) before anything is
deployed; a step re-executed after a crash deploys that same choice instead of choosing
again from a registry it has already changed (which would roll back one version too far).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from defib.actions._systems import incident_seq, post_command, targets
from defib.actions.base import ActionContext, ActionError, ActionResult
from defib.actions.containment import _recorded, for_each_system
from defib.actions.environment import ActionEnvironment
from defib.config import SystemConfig
from defib.events import TimelineKind
from defib.store import incidents as incident_repo
from defib.store.incidents import IncidentFilter
from defib.systems.control import Owner
from defib.systems.state import KnownGood, ModelVersion, previous_known_good

PLANNED = TimelineKind.STEP_ROLLBACK_PLANNED


def _mlflow_client(system: SystemConfig) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise ActionError(
            f"{system.name}: registry kind mlflow needs MLflow: pip install 'defib[mlflow]'"
        ) from None
    uri = system.registry.tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_versions(system: SystemConfig) -> tuple[str | None, list[str]]:
    """(the version the alias points at, every version oldest first) from the registry."""
    from mlflow.exceptions import MlflowException

    client = _mlflow_client(system)
    name = system.registry.model_name
    try:
        found = client.search_model_versions(f"name='{name}'")
    except MlflowException as exc:
        raise ActionError(f"{system.name}: MLflow model {name!r}: {exc}") from exc
    names = [str(v.version) for v in sorted(found, key=lambda v: int(v.version))]
    try:
        current = str(client.get_model_version_by_alias(name, system.registry.alias).version)
    except MlflowException:
        current = None
    return current, names


def mlflow_point_alias(system: SystemConfig, version: str) -> None:
    from mlflow.exceptions import MlflowException

    client = _mlflow_client(system)
    try:
        client.set_registered_model_alias(
            system.registry.model_name, system.registry.alias, version
        )
    except MlflowException as exc:
        raise ActionError(f"{system.name}: MLflow alias {system.registry.alias!r}: {exc}") from exc


def incident_free(
    env: ActionEnvironment, system: str, versions: list[ModelVersion], now: datetime
) -> dict[str, timedelta]:
    """How long each version served before the first incident touching `system` in that time."""
    with env.db.read() as conn:
        incidents, _ = incident_repo.list_incidents(conn, IncidentFilter(system=system), limit=500)
    starts = sorted(i.first_seen_at or i.detected_at for i in incidents)
    free: dict[str, timedelta] = {}
    for v in versions:
        if v.first_served_at is None:
            continue
        end = v.last_served_at or now
        hits = [t for t in starts if v.first_served_at <= t <= end]
        free[v.name] = (min(hits) if hits else end) - v.first_served_at
    return free


def decide(env: ActionEnvironment, system: SystemConfig, explicit: str | None) -> dict[str, Any]:
    """From and to versions for `system`, and why; ActionError naming the system if none."""
    control = env.control
    if system.registry.kind == "mlflow":
        current, names = mlflow_versions(system)
        control.register_versions(system.name, names)
    else:
        state = control.state(system.name)
        current = state.active_version if state is not None else system.initial_version
    versions = control.versions(system.name)
    if not versions:
        raise ActionError(
            f"{system.name}: no model versions are known (systems[].versions, or the MLflow"
            " registry), so there is nothing to roll back to"
        )
    if explicit is not None:
        if explicit not in {v.name for v in versions}:
            raise ActionError(f"{system.name}: params.version {explicit!r} is not a version")
        return {"from": current, "to": explicit, "why": "named by the step"}
    now = env.clock()
    found = previous_known_good(
        versions,
        current,
        incident_free=incident_free(env, system.name, versions, now),
        good_after=timedelta(seconds=system.registry.good_after_seconds),
    )
    if not isinstance(found, KnownGood):
        raise ActionError(f"{system.name}: no known-good version to roll back to: {found.why}")
    return {"from": current, "to": found.version.name, "why": found.why}


def unversioned(system: SystemConfig) -> str | None:
    """Why a system cannot be rolled back at all (no versions to choose from), or None."""
    if system.registry.kind == "gateway" and not system.versions:
        return "no model versions configured (systems[].versions): nothing to roll back"
    return None


class RollbackAction:
    """params: `systems` (default: the incident's), `version` (deploy this one instead of
    choosing the previous known-good)."""

    name = "rollback_model"

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        control = env.control
        seq = incident_seq(ctx)
        explicit = ctx.params.get("version")
        if explicit is not None and not isinstance(explicit, str):
            raise ActionError("params.version: must be a string")
        async with env.http_client() as client:

            async def act(system: SystemConfig, key: str) -> dict[str, Any]:
                if await asyncio.to_thread(_recorded, env, key):
                    return {"already": True}
                chosen = await asyncio.to_thread(decide, env, system, explicit)
                plan = await asyncio.to_thread(
                    control.plan_once,
                    seq,
                    f"{key}:plan",
                    PLANNED,
                    {"step": ctx.step_name, "system": system.name, **chosen},
                    ctx.actor,
                )
                source, target = plan["from"], str(plan["to"])
                extra: dict[str, Any] = {}
                kind = system.registry.kind
                if kind == "mlflow":
                    await asyncio.to_thread(mlflow_point_alias, system, target)
                elif kind == "http":
                    extra["registry"] = await post_command(
                        env,
                        client,
                        system,
                        "registry",
                        action="rollback",
                        incident=str(ctx.incident["id"]),
                        key=key,
                        from_version=source,
                        to_version=target,
                    )
                change = await asyncio.to_thread(
                    control.route,
                    system.name,
                    target,
                    Owner(ctx.actor, seq, key),
                    mark_bad=source,
                )
                return {
                    "registry": kind,
                    "from_version": source,
                    "to_version": target,
                    "why": plan["why"],
                    "changed": change.changed,
                    **extra,
                }

            return await for_each_system(
                ctx, env, self.name, "rollback", act, unversioned, contain=True
            )

    def describe(self, ctx: ActionContext) -> str:
        env = ctx.env
        found = targets(ctx, env.settings)
        if not found.systems:
            return f"{self.name}: would be skipped ({found.why_none()})"
        parts = []
        for system in found.systems:
            try:
                if system.registry.kind == "mlflow":
                    parts.append(f"{system.name}: re-point MLflow alias {system.registry.alias}")
                    continue
                chosen = decide(env, system, ctx.params.get("version"))
                parts.append(f"{system.name}: {chosen['from']} -> {chosen['to']} ({chosen['why']})")
            except ActionError as exc:
                parts.append(f"would fail: {exc}")
        return f"{self.name}: " + "; ".join(parts)
