"""What the system-facing actions share: which systems a step acts on, and how to reach a
team's control plane (signed POST, retried, keyed)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from defib.actions.base import ActionContext, ActionError
from defib.actions.environment import ActionEnvironment
from defib.config import Settings, SystemConfig
from defib.integrations.base import DeliveryFailed, RetryPolicy
from defib.integrations.control_plane import ControlPlane
from defib.integrations.smtp import SmtpMailer


@dataclass
class Targets:
    """The configured systems a step acts on, and the named ones nobody configured."""

    systems: list[SystemConfig] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def why_none(self) -> str:
        if self.unknown:
            return (
                f"system(s) {', '.join(self.unknown)} are not in the systems: config, so there"
                " is nothing to act on"
            )
        return "the incident names no affected system"


def targets(ctx: ActionContext, settings: Settings) -> Targets:
    """params `systems` (a list) if given, else the incident's affected systems."""
    names = ctx.params.get("systems")
    if names is None:
        names = ctx.incident.get("affected_systems", ctx.incident.get("systems", []))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ActionError("params.systems: must be a list of system names")
    found = Targets()
    for name in dict.fromkeys(names):
        system = settings.system(name)
        if system is None:
            found.unknown.append(name)
        else:
            found.systems.append(system)
    return found


def incident_seq(ctx: ActionContext) -> int:
    return int(ctx.incident["seq"])


def env_secret(env: ActionEnvironment, name: str | None, what: str) -> str | None:
    """The secret the setting `what` names (`$name`); ActionError naming `what` if unset."""
    if name is None:
        return None
    value = env.secret(name)
    if value is None:
        raise ActionError(f"{what}: ${name} is not set")
    return value


def retry_policy(settings: Settings) -> RetryPolicy:
    r = settings.notifications.retries
    return RetryPolicy(r.attempts, r.backoff_seconds, r.max_backoff_seconds)


async def post_command(
    env: ActionEnvironment,
    client: httpx.AsyncClient,
    system: SystemConfig,
    what: Literal["control", "registry"],
    *,
    action: str,
    incident: str,
    key: str,
    **extra: Any,
) -> Mapping[str, Any]:
    """POST one command to the system's control plane (`what`: its `control` or its
    `registry` endpoint) with retries; ActionError naming the system."""
    endpoint = system.control if what == "control" else system.registry
    assert endpoint.url is not None  # the config requires it for kind http
    secret = env_secret(env, endpoint.secret_env, f"systems[{system.name}].{what}.secret_env")
    plane = ControlPlane(client, endpoint.url, secret, retry_policy(env.settings))
    try:
        return await plane.command(action, system.name, incident, key, **extra)
    except DeliveryFailed as exc:
        raise ActionError(f"{system.name}: {what} {action} failed: {exc}") from exc


def mailer(env: ActionEnvironment, to: list[str]) -> SmtpMailer:
    smtp = env.settings.notifications.smtp
    if smtp is None:
        raise ActionError("notifications.smtp is not configured (needed to send email)")
    context = None
    if smtp.starttls and smtp.ca_file is not None:
        context = ssl.create_default_context(cafile=str(smtp.ca_file))
    return SmtpMailer(
        host=smtp.host,
        port=smtp.port,
        from_address=smtp.from_address,
        to=tuple(to),
        starttls=smtp.starttls,
        username=env_secret(env, smtp.username_env, "notifications.smtp.username_env"),
        password=env_secret(env, smtp.password_env, "notifications.smtp.password_env"),
        timeout_seconds=smtp.timeout_seconds,
        ssl_context=context,
    )
