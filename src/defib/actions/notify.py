"""`notify_team` and `notify_security_team`: Slack, signed webhooks, email and PagerDuty.

Who hears about an incident comes from the `systems:` config (each affected system's
owners); `default_owners:` hears what no system covers (a system not configured, an
incident naming none, owners with no channel), so a SEV1 never goes nowhere silently.
Every delivery carries `<run id>:<step index>:<channel>:<target hash>` as its
idempotency key (`Idempotency-Key`, `Message-ID`/`X-Defib-Idempotency-Key`; PagerDuty
folds on `dedup_key` = the incident id) and lands on the timeline once, keyed the same
way. A re-executed step skips targets whose delivery is already on the timeline, so only
a crash between a send and its timeline write can repeat a send, and then with the same key;
the intent recorded before each send (`actions/intent.py`) marks such a repeat `in_doubt`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome
from defib.actions.environment import ActionEnvironment
from defib.actions.intent import announce
from defib.actions.templating import render_text
from defib.config import NotificationSettings, Owners, Settings, SystemConfig
from defib.events import TimelineKind
from defib.integrations.base import DeliveryFailed, Notice, Notifier, RetryPolicy, deliver
from defib.integrations.pagerduty import PagerDutyEvents
from defib.integrations.slack import SlackWebhook
from defib.integrations.smtp import SmtpMailer
from defib.integrations.webhook import SignedWebhook
from defib.silences import label_sets, silenced_by
from defib.store import evidence as store
from defib.store import silences as silence_repo

CHANNELS = ("slack", "email", "webhook", "pagerduty")
# Timeline kinds; `run_step_` like the engine's own, so readers can tell them from people's.
SENT, FAILED, SKIPPED = (
    TimelineKind.STEP_NOTIFICATION_SENT,
    TimelineKind.STEP_NOTIFICATION_FAILED,
    TimelineKind.STEP_NOTIFICATION_SKIPPED,
)
DEFAULT_MESSAGE = "{{ incident.id }} ({{ incident.severity }}): {{ incident.title }}"


@dataclass(frozen=True, slots=True)
class Target:
    """One destination, identified by a short hash of where it goes (stable across runs)."""

    id: str
    notifier: Notifier | None
    channel: str
    label: str
    problem: str | None = None  # a configuration problem: fails without being tried


@dataclass
class Plan:
    notice: Notice
    targets: list[Target] = field(default_factory=list)
    unknown_systems: list[str] = field(default_factory=list)
    # The default owners (`default_owners:`) were added for what no system covers.
    defaulted: bool = False


def _target_id(channel: str, identity: str) -> str:
    return f"{channel}:{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


def _env_secret(
    secrets: Mapping[str, str], name: str | None, what: str
) -> tuple[str | None, str | None]:
    if name is None:
        return None, None
    value = secrets.get(name)
    if value is None:
        return None, f"{what}: ${name} is not set"
    return value, None


class NotifyAction:
    def __init__(self, name: str, *, security: bool) -> None:
        self.name = name
        self.security = security

    # -- planning -------------------------------------------------------------------------

    def _channels(self, ctx: ActionContext) -> tuple[str, ...]:
        wanted = ctx.params.get("channels")
        if wanted is None:
            return CHANNELS
        if not isinstance(wanted, list) or not all(c in CHANNELS for c in wanted):
            raise ActionError(f"params.channels: a list of {', '.join(CHANNELS)}")
        return tuple(wanted)

    def _notice(self, ctx: ActionContext, settings: Settings) -> Notice:
        message = ctx.params.get("message", DEFAULT_MESSAGE)
        if not isinstance(message, str):
            raise ActionError("params.message: must be a string")
        inc = ctx.incident
        return Notice(
            incident_id=str(inc["id"]),
            type=str(inc["type"]),
            severity=str(inc["severity"]),
            status=str(inc.get("status", "")),
            title=str(inc["title"]),
            systems=tuple(str(s) for s in inc.get("systems", ())),
            link=settings.incident_link(str(inc["id"])),
            text=render_text(message, inc),
            security=self.security,
        )

    def plan(
        self, ctx: ActionContext, settings: Settings, client: httpx.AsyncClient | None
    ) -> Plan:
        """Who gets what; without a client (dry runs) the targets carry no notifier."""
        notice = self._notice(ctx, settings)
        channels = self._channels(ctx)
        plan = Plan(notice)
        systems: list[SystemConfig] = []
        for name in notice.systems:
            system = settings.system(name)
            if system is None:
                plan.unknown_systems.append(name)
            else:
                systems.append(system)
        seen: set[str] = set()

        def add(target: Target) -> None:
            if target.id not in seen and target.channel in channels:
                seen.add(target.id)
                plan.targets.append(target)

        notifications = settings.notifications
        emails: list[str] = []
        for system in systems:
            emails += self._owner_targets(
                system.owners, system.name, client, settings, ctx.env.secrets, add
            )
        uncovered = plan.unknown_systems or not notice.systems or not plan.targets
        if settings.default_owners is not None and uncovered:
            # What no system's owners cover goes to the default receiver.
            emails += self._owner_targets(
                settings.default_owners, "default", client, settings, ctx.env.secrets, add
            )
            plan.defaulted = True
        if self.security:
            emails.extend(notifications.security_contacts)
        recipients = sorted(set(emails))
        if recipients:
            add(self._email_target(recipients, notifications, ctx.env.secrets))
        return plan

    def _owner_targets(
        self,
        owners: Owners,
        label: str,
        client: httpx.AsyncClient | None,
        settings: Settings,
        secrets: Mapping[str, str],
        add: Callable[[Target], None],
    ) -> list[str]:
        """Add the owners' Slack, webhook and PagerDuty targets; their e-mail addresses."""
        if owners.slack_webhook and not self.security:
            add(
                Target(
                    _target_id("slack", owners.slack_webhook),
                    SlackWebhook(client, owners.slack_webhook) if client else None,
                    "slack",
                    f"slack ({label})",
                )
            )
        for hook in owners.webhooks:
            secret, problem = _env_secret(
                secrets, hook.secret_env, f"owners ({label}).webhooks.secret_env"
            )
            add(
                Target(
                    _target_id("webhook", hook.url),
                    SignedWebhook(client, hook.url, secret) if client else None,
                    "webhook",
                    f"webhook ({label})",
                    problem,
                )
            )
        if owners.pagerduty_routing_key:
            add(
                Target(
                    _target_id("pagerduty", owners.pagerduty_routing_key),
                    PagerDutyEvents(
                        client,
                        owners.pagerduty_routing_key,
                        settings.notifications.pagerduty.events_url,
                    )
                    if client
                    else None,
                    "pagerduty",
                    f"pagerduty ({label})",
                )
            )
        return list(owners.security_contacts if self.security else owners.emails)

    def _email_target(
        self, to: Sequence[str], notifications: NotificationSettings, secrets: Mapping[str, str]
    ) -> Target:
        tid = _target_id("email", ",".join(to))
        label = f"email ({len(to)} recipient{'s' if len(to) != 1 else ''})"
        smtp = notifications.smtp
        if smtp is None:
            return Target(tid, None, "email", label, "notifications.smtp is not configured")
        username, problem = _env_secret(
            secrets, smtp.username_env, "notifications.smtp.username_env"
        )
        password, problem2 = _env_secret(
            secrets, smtp.password_env, "notifications.smtp.password_env"
        )
        context = None
        if smtp.starttls and smtp.ca_file is not None:
            context = ssl.create_default_context(cafile=str(smtp.ca_file))
        mailer = SmtpMailer(
            host=smtp.host,
            port=smtp.port,
            from_address=smtp.from_address,
            to=tuple(to),
            starttls=smtp.starttls,
            username=username,
            password=password,
            timeout_seconds=smtp.timeout_seconds,
            ssl_context=context,
        )
        return Target(tid, mailer, "email", label, problem or problem2)

    # -- running --------------------------------------------------------------------------

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        # A silence covering every system of the incident keeps the team's channels quiet;
        # security notifications go out whatever is silenced.
        silences = [] if self.security else await asyncio.to_thread(_silencing, env.db, ctx)
        if silences:
            reason = f"silenced by {', '.join(silences)}"
            await ctx.record(
                SKIPPED,
                {
                    "action": self.name,
                    "step": ctx.step_name,
                    "reason": reason,
                    "silenced_by": silences,
                },
                "notify:silenced",
            )
            # A person's silence: the run's attention check tells it from "nobody to tell".
            return ActionResult(Outcome.SKIPPED, {"silenced_by": silences}, reason)
        async with env.http_client() as client:
            plan = self.plan(ctx, env.settings, client)
            if not plan.targets:
                reason = self._nobody(plan)
                await ctx.record(
                    SKIPPED,
                    {"action": self.name, "step": ctx.step_name, "reason": reason},
                    "notify:none",
                )
                return ActionResult(Outcome.SKIPPED, reason=reason)
            return await self._deliver_all(ctx, env, plan)

    def _nobody(self, plan: Plan) -> str:
        who = "security contacts" if self.security else "owners"
        if plan.unknown_systems:
            return (
                f"no {who} to notify: system(s) {', '.join(plan.unknown_systems)} are not in"
                " the systems: config"
            )
        if not plan.notice.systems:
            return f"no {who} to notify: the incident names no affected system"
        return f"no {who} to notify: the affected systems configure no channel for this"

    async def _deliver_all(
        self, ctx: ActionContext, env: ActionEnvironment, plan: Plan
    ) -> ActionResult:
        retries = env.settings.notifications.retries
        policy = RetryPolicy(retries.attempts, retries.backoff_seconds, retries.max_backoff_seconds)
        sent: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for target in plan.targets:
            suffix = f"notify:{target.id}"
            base: dict[str, Any] = {
                "action": self.name,
                "step": ctx.step_name,
                "channel": target.channel,
                "target": target.label,
            }
            if await asyncio.to_thread(_recorded, env.db, f"{ctx.idempotency_key}:{suffix}"):
                sent.append({**base, "already": True})
                continue
            if target.problem is not None or target.notifier is None:
                entry: dict[str, Any] = {
                    **base,
                    "error": target.problem,
                    "attempts": 0,
                    "retryable": False,
                }
                await ctx.record(FAILED, entry, f"{suffix}:failed:{ctx.attempt}")
                failed.append(entry)
                continue
            key = f"{ctx.idempotency_key}:{target.id}"
            in_doubt = await announce(
                ctx,
                env.db,
                suffix,
                {**base, "destination": target.notifier.target, "idempotency_key": key},
            )
            try:
                receipt = await deliver(target.notifier, plan.notice, key, policy)
            except DeliveryFailed as exc:
                entry = {
                    **base,
                    "destination": target.notifier.target,
                    "error": str(exc.error),
                    "attempts": exc.attempts,
                    "retryable": exc.error.retryable,
                    "idempotency_key": key,
                }
                await ctx.record(FAILED, entry, f"{suffix}:failed:{ctx.attempt}")
                failed.append(entry)
                continue
            entry = {
                **base,
                "destination": receipt.target,
                "attempts": receipt.attempts,
                "idempotency_key": key,
                "detail": dict(receipt.detail),
            }
            if in_doubt:
                entry["in_doubt"] = True  # an earlier execution may have sent it already
            await ctx.record(SENT, entry, suffix)
            sent.append(entry)
        detail = {
            "sent": len(sent),
            "failed": len(failed),
            "channels": sorted({t.channel for t in plan.targets}),
            "unknown_systems": plan.unknown_systems,
            "default_owners": plan.defaulted,
        }
        if failed:
            reasons = "; ".join(f"{f['target']}: {f['error']}" for f in failed)
            raise ActionError(f"{len(failed)} of {len(plan.targets)} deliveries failed: {reasons}")
        return ActionResult(detail=detail)

    def describe(self, ctx: ActionContext) -> str:
        env = ctx.env
        plan = self.plan(ctx, env.settings, None)
        if not plan.targets:
            return f"{self.name}: would be skipped ({self._nobody(plan)})"
        labels = ", ".join(t.label + (f" [{t.problem}]" if t.problem else "") for t in plan.targets)
        return f"{self.name}: {labels}"


def _silencing(db: Any, ctx: ActionContext) -> list[str]:
    inc = ctx.incident
    sets = label_sets(
        inc.get("labels") or {},
        str(inc.get("type")),
        str(inc.get("severity")),
        [str(s) for s in inc.get("systems", ())],
    )
    now = ctx.env.clock()
    with db.read() as conn:
        return silenced_by(silence_repo.list_silences(conn, unexpired_at=now), sets, now)


def _recorded(db: Any, key: str) -> bool:
    with db.read() as conn:
        return store.timeline_key_exists(conn, key)
