"""Paging on call until someone acknowledges: the `page_oncall` action and its runs.

When an incident opens (or reopens) at a severity its escalation policy pages, the
policy's timetable (`oncall.escalation.timetable`) becomes a playbook of its own,
`oncall-<policy>`, planned in the incident's transaction next to the type's playbook:
`page_oncall` steps separated by durable `wait` steps. It therefore runs in the engine
defib already trusts: a crash or restart neither loses a pending escalation (the wait's
deadline is checkpointed) nor repeats a page whose step completed, and a page re-executed
after a crash skips every delivery already on the timeline. Each delivery carries the key
`<incident>:page:<policy>:<level>:<repeat>:<person>:<channel>`.

Every page first reads the incident: once it is acknowledged (or mitigated, resolved)
nothing more is sent; the first page to notice writes `paging_stopped`, once per run.
Timeline kinds: `page_sent`, `page_failed`, `escalated`, `paging_stopped`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from sqlalchemy import Connection

from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome
from defib.actions.notify import NotifyAction
from defib.config import Settings
from defib.events import TimelineKind
from defib.integrations.base import (
    DeliveryFailed,
    Notice,
    Notifier,
    RetryPolicy,
    deliver,
    mask_url,
)
from defib.integrations.http import post, status_detail
from defib.integrations.pagerduty import PagerDutyEvents
from defib.integrations.signing import IDEMPOTENCY_HEADER
from defib.integrations.slack import blocks
from defib.integrations.webhook import SignedWebhook
from defib.model import Incident, Status
from defib.oncall import Directory, Person, Policy, Target, policies_for, timetable
from defib.oncall.config import directory
from defib.oncall.schedule import who_is_on_call
from defib.playbooks.spec import Playbook, Retries, Step
from defib.store import evidence as evidence_repo
from defib.store import incidents as incident_repo
from defib.store import oncall as oncall_repo

ACTION = "page_oncall"
PLAYBOOK_PREFIX = "oncall-"
PAGE_SENT, PAGE_FAILED, ESCALATED, PAGING_STOPPED = (
    TimelineKind.PAGE_SENT,
    TimelineKind.PAGE_FAILED,
    TimelineKind.ESCALATED,
    TimelineKind.PAGING_STOPPED,
)
# A page that reached nobody is tried again this often (then the step fails, on the record).
PAGE_RETRIES = 2


def playbook_name(policy: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", policy.lower()).strip("-") or "policy"
    return (PLAYBOOK_PREFIX + slug)[:64].rstrip("-")


def escalation_playbook(policy: Policy) -> Playbook:
    """The policy's timetable as a playbook: a durable wait before each delayed page."""
    steps: list[Step] = []
    for page in timetable(policy):
        wait = page.wait.total_seconds()
        if wait > 0:
            steps.append(
                Step(
                    name=f"wait-{page.level}-{page.repeat}",
                    action="wait",
                    description=f"wait {wait:g}s before level {page.level}",
                    params={"seconds": wait},
                    required=False,
                )
            )
        steps.append(
            Step(
                name=f"page-{page.level}-{page.repeat}",
                action=ACTION,
                description=f"page level {page.level}"
                + (f" (repeat {page.repeat})" if page.repeat else ""),
                params={
                    "policy": policy.name,
                    "level": page.level,
                    "repeat": page.repeat,
                    "targets": [
                        {"schedule": t.schedule} if t.schedule else {"person": t.person}
                        for t in page.targets
                    ],
                },
                retries=Retries(count=PAGE_RETRIES, backoff_seconds=5.0),
                required=False,
            )
        )
    return Playbook(
        name=playbook_name(policy.name),
        description=f"Page on call per escalation policy {policy.name} until acknowledged.",
        applies_to=("*",),
        steps=tuple(steps),
    )


def incident_policies(
    settings: Settings, incident: Incident, found: Directory | None = None
) -> list[Policy]:
    """The escalation policies this incident pages now (by its systems and severity)."""
    if not settings.escalation_policies:
        return []
    found = found or directory(settings)
    system_policy = {s.name: s.owners.escalation_policy for s in settings.systems}
    default = settings.default_owners.escalation_policy if settings.default_owners else None
    names = policies_for(list(incident.affected_systems), system_policy, default)
    return [
        found.policies[n]
        for n in names
        if n in found.policies and incident.severity.value in found.policies[n].severities
    ]


class _Hooks(Protocol):
    def plan(self, conn: Connection, incident: Incident, actor: str) -> None: ...

    def after_commit(self, incidents: Sequence[Incident]) -> None: ...


PlanRun = Callable[[Connection, Incident, str, Playbook], object]


class PagingHooks:
    """The incident service's hooks: the engine's own, plus an escalation run per policy.

    Planned in the same transaction as the incident (the outbox); the engine's
    `after_commit` and sweeper enqueue every pending run of the incident, these included.
    """

    def __init__(self, inner: _Hooks, plan_run: PlanRun, settings: Settings) -> None:
        self.inner = inner
        self.plan_run = plan_run
        self.settings = settings
        # Built once: planning runs inside every incident-opening transaction.
        self.directory = directory(settings)

    def plan(self, conn: Connection, incident: Incident, actor: str) -> None:
        self.inner.plan(conn, incident, actor)
        if incident.status is not Status.DETECTED:
            return
        for policy in incident_policies(self.settings, incident, self.directory):
            # None when this policy already pages the incident (one active run per playbook).
            self.plan_run(conn, incident, actor, escalation_playbook(policy))

    def after_commit(self, incidents: Sequence[Incident]) -> None:
        self.inner.after_commit(incidents)


@dataclass(frozen=True, slots=True)
class _Delivery:
    person: str
    channel: str
    notifier: Notifier | None
    problem: str | None = None
    # Several deliveries of one channel (a mention in each owner channel): told apart in keys.
    where: str = ""


@dataclass(frozen=True, slots=True)
class SlackMention:
    """The incident's Slack message (with its Acknowledge button) posted to an owners'
    channel webhook, @-mentioning the person paged, so Slack notifies them."""

    client: httpx.AsyncClient
    url: str
    user: str
    channel: str = "slack"

    @property
    def target(self) -> str:
        return mask_url(self.url)

    async def send_once(self, notice: Notice, idempotency_key: str) -> Mapping[str, Any]:
        body = blocks(notice)
        # The user id is checked by the config (`U...`/`W...`), so it needs no escaping.
        mention = f"<@{self.user}> you are paged for {notice.incident_id}"
        body["text"] = f"{mention}: {body['text']}"
        body["blocks"].insert(1, {"type": "section", "text": {"type": "mrkdwn", "text": mention}})
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "defib-notify",
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        return status_detail(await post(self.client, self.url, raw, headers))


def _slack_hooks(settings: Settings, systems: Sequence[str]) -> list[str]:
    """The owners' Slack webhooks of these systems; the default owners' if none has one."""
    hooks: list[str] = []
    for name in systems:
        system = settings.system(name)
        if system is not None and system.owners.slack_webhook:
            hooks.append(system.owners.slack_webhook)
    if not hooks and settings.default_owners is not None and settings.default_owners.slack_webhook:
        hooks.append(settings.default_owners.slack_webhook)
    return sorted(set(hooks))


def _targets(params: Mapping[str, Any]) -> list[Target]:
    raw = params.get("targets")
    if not isinstance(raw, list):
        raise ActionError("params.targets: a list of {schedule} or {person}")
    out: list[Target] = []
    for t in raw:
        if not isinstance(t, dict):
            raise ActionError("params.targets: a list of {schedule} or {person}")
        out.append(Target(schedule=t.get("schedule"), person=t.get("person")))
    return out


def _int(params: Mapping[str, Any], key: str) -> int:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(f"params.{key}: must be an integer")
    return value


class PageOnCallAction:
    """Page one level of an escalation policy (params `policy`, `level`, `repeat`, `targets`)."""

    name = ACTION

    def _status(self, ctx: ActionContext) -> tuple[Status, str]:
        with ctx.env.db.read() as conn:
            incident = incident_repo.get_incident(conn, int(ctx.incident["seq"]))
        return incident.status, incident.id

    def _people(
        self, ctx: ActionContext, found: Directory, targets: Sequence[Target]
    ) -> tuple[list[tuple[Person, str]], list[str]]:
        """(person, why) for each target, and the targets that name nobody right now."""
        now = ctx.env.clock()
        with ctx.env.db.read() as conn:
            overrides = oncall_repo.list_overrides(conn, ending_after=now)
        people: list[tuple[Person, str]] = []
        nobody: list[str] = []
        for target in targets:
            if target.schedule is not None:
                schedule = found.schedules.get(target.schedule)
                name = None if schedule is None else who_is_on_call(schedule, now, overrides)
                why = f"on call for {target.schedule}"
            else:
                name, why = target.person, "named by the policy"
            person = found.people.get(name) if name else None
            if person is None:
                nobody.append(target.label)
            elif all(p.name != person.name for p, _ in people):
                people.append((person, why))
        return people, nobody

    def _deliveries(
        self, ctx: ActionContext, person: Person, client: httpx.AsyncClient
    ) -> list[_Delivery]:
        out: list[_Delivery] = []
        if person.webhook:
            secret, problem = None, None
            if person.webhook_secret_env:
                secret = ctx.env.secret(person.webhook_secret_env)
                if secret is None:
                    problem = f"people ({person.name}).webhook_secret_env: not set"
            out.append(
                _Delivery(
                    person.name, "webhook", SignedWebhook(client, person.webhook, secret), problem
                )
            )
        if person.slack_user:
            hooks = _slack_hooks(
                ctx.env.settings, [str(s) for s in ctx.incident.get("systems", ())]
            )
            problem = None if hooks else "no owners.slack_webhook to mention the Slack user in"
            for url in hooks or [""]:
                notifier = SlackMention(client, url, person.slack_user) if url else None
                out.append(_Delivery(person.name, "slack", notifier, problem, url))
        if person.pagerduty_routing_key:
            # dedup_key = the incident id (as notify_team's): every level and repeat that
            # pages this person updates one PagerDuty incident, and PagerDuty's acknowledge or
            # resolve of it comes back through the v3 webhook to this incident.
            events = PagerDutyEvents(
                client,
                person.pagerduty_routing_key,
                ctx.env.settings.notifications.pagerduty.events_url,
            )
            out.append(_Delivery(person.name, "pagerduty", events))
        if person.email:
            target = NotifyAction("notify_team", security=False)._email_target(
                [person.email], ctx.env.settings.notifications, ctx.env.secrets
            )
            out.append(_Delivery(person.name, "email", target.notifier, target.problem))
        return out

    def _notice(self, ctx: ActionContext, level: int, repeat: int, policy: str) -> Notice:
        inc = ctx.incident
        settings = ctx.env.settings
        link = settings.incident_link(str(inc["id"]))
        again = f", repeat {repeat}" if repeat else ""
        return Notice(
            incident_id=str(inc["id"]),
            type=str(inc["type"]),
            severity=str(inc["severity"]),
            status=str(inc.get("status", "")),
            title=str(inc["title"]),
            systems=tuple(str(s) for s in inc.get("systems", ())),
            link=link,
            text=(
                f"PAGE {inc['id']} ({inc['severity']}): {inc['title']} "
                f"[{policy} level {level}{again}]. Acknowledge: {link}"
            ),
        )

    async def run(self, ctx: ActionContext) -> ActionResult:
        policy = str(ctx.params.get("policy", ""))
        level, repeat = _int(ctx.params, "level"), _int(ctx.params, "repeat")
        targets = _targets(ctx.params)
        status, incident_id = await asyncio.to_thread(self._status, ctx)
        base: dict[str, Any] = {"policy": policy, "level": level, "repeat": repeat}
        if status is not Status.DETECTED:
            reason = f"{incident_id} is {status.value}"
            # One per run, whichever page notices first.
            await ctx.timeline(
                PAGING_STOPPED, {**base, "reason": reason}, f"{ctx.run_id}:paging_stopped"
            )
            return ActionResult(Outcome.SKIPPED, {"stopped": True}, reason)
        if level > 1 or repeat > 0:
            await ctx.record(
                ESCALATED, {**base, "targets": [t.label for t in targets]}, "escalated"
            )
        found = directory(ctx.env.settings)
        people, nobody = await asyncio.to_thread(self._people, ctx, found, targets)
        retries = ctx.env.settings.notifications.retries
        retry = RetryPolicy(retries.attempts, retries.backoff_seconds, retries.max_backoff_seconds)
        notice = self._notice(ctx, level, repeat, policy)
        sent: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        async with ctx.env.http_client() as client:
            for person, why in people:
                for d in self._deliveries(ctx, person, client):
                    key = f"{incident_id}:page:{policy}:{level}:{repeat}:{person.name}:{d.channel}"
                    if d.where:
                        key += ":" + hashlib.sha256(d.where.encode()).hexdigest()[:12]
                    entry = {**base, "person": person.name, "why": why, "channel": d.channel}
                    if await asyncio.to_thread(_recorded, ctx.env.db, key):
                        sent.append({**entry, "already": True})
                        continue
                    if d.problem is not None or d.notifier is None:
                        entry["error"] = d.problem
                        await ctx.timeline(PAGE_FAILED, entry, f"{key}:failed:{ctx.attempt}")
                        failed.append(entry)
                        continue
                    try:
                        receipt = await deliver(d.notifier, notice, key, retry)
                    except DeliveryFailed as exc:
                        entry["error"] = str(exc.error)
                        await ctx.timeline(PAGE_FAILED, entry, f"{key}:failed:{ctx.attempt}")
                        failed.append(entry)
                        continue
                    entry.update(destination=receipt.target, idempotency_key=key)
                    await ctx.timeline(PAGE_SENT, entry, key)
                    sent.append(entry)
        reached = sorted({s["person"] for s in sent})
        detail = {**base, "paged": reached, "sent": len(sent), "failed": len(failed)}
        if nobody:
            detail["nobody_for"] = nobody
        if not reached:
            why = "; ".join(
                [f"{t}: nobody on call" for t in nobody]
                + [f"{f['person']} {f['channel']}: {f['error']}" for f in failed]
                + [
                    f"{p.name}: no webhook, e-mail, Slack user or PagerDuty key"
                    for p, _ in people
                    if not _reachable(p)
                ]
            )
            raise ActionError(f"level {level} reached nobody ({why or 'no targets'})")
        return ActionResult(detail=detail)

    def describe(self, ctx: ActionContext) -> str:
        targets = ", ".join(t.label for t in _targets(ctx.params))
        return f"page {ctx.params.get('policy')} level {ctx.params.get('level')}: {targets}"


def _reachable(person: Person) -> bool:
    return bool(person.webhook or person.email or person.slack_user or person.pagerduty_routing_key)


def _recorded(db: Any, key: str) -> bool:
    with db.read() as conn:
        return evidence_repo.timeline_key_exists(conn, key)
