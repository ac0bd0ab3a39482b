"""`assess_data_impact` and `notify_affected_users`.

assess_data_impact scans what the affected systems answered in the incident window: the
gateway's captures (`store.systems.captures_between`; for captures masked at rest, the
findings stored with them, since the values are gone) and the samples carried by the
incident's alerts, with the PII detector (which includes secrets). It records counts per
entity type, the affected people and references to the records (never the values) in
`incidents.impact`, as an evidence item (`impact.json`) and on the timeline.

The affected people are the **data subjects** (`actions.subjects`): directory entries whose
e-mail address, phone number or full name appears in a leaked answer and was not in the
request. The `user` a request carried is counted (`claimed_users_not_used`) and never used:
a client writes what it likes there (issue 25). Each person is listed with the identifier
types that matched and the records they were found in, so the approver sees why. Records
masked at rest, or whose identifiers match nobody in the directory, are counted apart.

notify_affected_users sends one email per affected user from a Jinja2 template (sandboxed),
keyed per user, after a person approved the step (the built-in data_leak playbook requires
it; the approval says how many recipients at which domains, and by which identifiers they
were found). An assessment made before data-subject matching is refused. Addresses come
from the operator's directory (`notifications.affected_users`), never from the user ids.
The template sees the incident's id, type, severity, systems, its
detection date, the user's id and the entity *types* found, never the leaked values; a
rendered message in which the PII detector finds anything other than the recipient's own
address is not sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from importlib import resources
from typing import Any

from sqlalchemy import Connection

from defib.actions._systems import incident_seq, mailer, retry_policy
from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome
from defib.actions.environment import ActionEnvironment
from defib.actions.evidence import _samples
from defib.actions.intent import announce
from defib.actions.recipients import directory_people, resolve
from defib.actions.subjects import RULE, SubjectIndex
from defib.actions.templating import render_with
from defib.detectors import get_detector
from defib.detectors.pii import WEAK_TYPES
from defib.events import TimelineKind
from defib.evidence import ItemDraft
from defib.integrations.base import DeliveryFailed, retrying
from defib.model import TimelineEvent
from defib.store import evidence as evidence_repo
from defib.store import impact as impact_repo
from defib.store import incidents as incident_repo
from defib.store import systems as systems_repo

DEFAULT_LOOKBACK_SECONDS = 3600
DEFAULT_MAX_RECORDS = 100_000
# References kept in the impact record; the counts cover every record.
MAX_REFS = 1000
# Per affected person: where they were found (the approver's "why is this person listed").
SUBJECT_REFS = 5
ASSESSED = TimelineKind.STEP_IMPACT_ASSESSED
USER_SENT, USER_FAILED, USER_SKIPPED = (
    TimelineKind.STEP_USER_NOTIFIED,
    TimelineKind.STEP_USER_NOTIFICATION_FAILED,
    TimelineKind.STEP_USER_NOT_NOTIFIABLE,
)
PII_DETECTORS = ("pii", "secrets")
DEFAULT_SUBJECT = "Important information about {{ incident.id }}, a security incident"


def _int_param(ctx: ActionContext, key: str, default: int) -> int:
    value = ctx.params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ActionError(f"params.{key}: must be an integer >= 0")
    return value


def assess(env: ActionEnvironment, ctx: ActionContext) -> dict[str, Any]:
    seq = incident_seq(ctx)
    lookback = _int_param(ctx, "lookback_seconds", DEFAULT_LOOKBACK_SECONDS)
    limit = _int_param(ctx, "max_records", DEFAULT_MAX_RECORDS)
    now = env.clock()
    with env.db.read() as conn:
        incident = incident_repo.get_incident(conn, seq)
        start = (incident.first_seen_at or incident.detected_at) - timedelta(seconds=lookback)
        systems = list(ctx.params.get("systems") or incident.affected_systems)
        captures = systems_repo.captures_between(conn, systems, start, now, limit=limit)
        alerts = evidence_repo.alerts_for_incident(conn, seq)
    people, unmatchable = directory_people(env.settings)
    index = SubjectIndex(people)
    detector = get_detector("pii")
    entities: Counter[str] = Counter()
    subjects: dict[str, _Subject] = {}
    claimed: set[str] = set()
    refs: list[str] = []
    records = unmatched = masked = 0

    def tally(
        ref: str,
        found: Counter[str],
        identifiers: list[tuple[str, str]] | None,
        sent: str,
        claimed_by: str | None,
    ) -> None:
        nonlocal records, unmatched, masked
        entities.update(found)
        # A place named alone (LOCATION) is counted, but makes no record or user affected.
        if not any(t not in WEAK_TYPES for t in found):
            return
        records += 1
        if len(refs) < MAX_REFS:
            refs.append(ref)
        if claimed_by:
            claimed.add(claimed_by)  # shown as a count, never a reason to mail anyone
        if identifiers is None:  # masked at rest: the values to match are gone
            masked += 1
            return
        matched = index.match(identifiers, sent)
        if not matched:
            unmatched += 1
        for user, types in matched.items():
            subjects.setdefault(user, _Subject()).add(types, ref)

    for c in captures:
        if c.masked:
            found: Counter[str] = Counter()
            for f in c.findings:
                if f.get("detector") in PII_DETECTORS and f.get("entity"):
                    found[str(f["entity"])] += int(f.get("count", 1))
            tally(f"capture:{c.id}", found, None, "", c.user_id)
        else:
            findings = detector.detect(c.response)
            tally(
                f"capture:{c.id}",
                Counter(f.type for f in findings),
                [(f.type, f.text) for f in findings],
                c.prompt,
                c.user_id,
            )
    samples = 0
    for alert in alerts:
        for i, sample in enumerate(_samples(alert["payload"])):
            response = sample.get("response")
            if not isinstance(response, str):
                continue
            samples += 1
            user = sample.get("user_id")
            prompt = sample.get("prompt")
            findings = detector.detect(response)
            tally(
                f"alert:{alert['id']}:sample:{i}",
                Counter(f.type for f in findings),
                [(f.type, f.text) for f in findings],
                _sent(prompt),
                str(user) if user is not None else None,
            )
    return {
        "assessed_at": now.isoformat(),
        "assessed_by": ctx.actor,
        "window": {"start": start.isoformat(), "end": now.isoformat()},
        "systems": systems,
        "scanned": {"captures": len(captures), "alert_samples": samples},
        "truncated": len(captures) >= limit > 0,
        "records": records,
        "record_refs": refs,
        "entities": dict(sorted(entities.items())),
        "users": sorted(subjects),
        "user_count": len(subjects),
        # Why each person is listed: what of theirs was found, and where (never the value).
        "subjects": [subjects[u].to_dict(u) for u in sorted(subjects)],
        "matching": {
            "rule": RULE,
            "directory_people": index.people,
            "unmatched_records": unmatched,
            "masked_records": masked,
            "claimed_users_not_used": len(claimed),
            **({"cannot_match": unmatchable} if unmatchable else {}),
        },
    }


@dataclass(slots=True)
class _Subject:
    """One affected person as the assessment found them."""

    matched_by: set[str] = field(default_factory=set)
    records: int = 0
    refs: list[str] = field(default_factory=list)

    def add(self, types: set[str], ref: str) -> None:
        self.matched_by |= types
        self.records += 1
        if len(self.refs) < SUBJECT_REFS:
            self.refs.append(ref)

    def to_dict(self, user: str) -> dict[str, Any]:
        return {
            "user_id": user,
            "matched_by": sorted(self.matched_by),
            "records": self.records,
            "record_refs": self.refs,
        }


class AssessImpactAction:
    """params: `lookback_seconds` (before the first alert; default 3600), `max_records`
    (captures scanned at most; default 100000), `systems` (default: the incident's)."""

    name = "assess_data_impact"

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        seq = incident_seq(ctx)
        key = f"{ctx.idempotency_key}:impact"
        if await asyncio.to_thread(_recorded, env, key):
            # Re-executed after a crash: keep the assessment already stored (the timeline,
            # the column and the evidence item must agree), finish what is missing.
            impact = await asyncio.to_thread(_stored_impact, env, seq)
            return await self._preserve(ctx, env, seq, impact)
        impact = await asyncio.to_thread(assess, env, ctx)

        summary = {k: v for k, v in impact.items() if k not in ("record_refs", "users", "subjects")}
        event = TimelineEvent(
            env.clock(),
            ctx.actor,
            ASSESSED,
            {"action": self.name, "step": ctx.step_name, **summary},
        )

        def store(conn: Connection) -> None:
            impact_repo.set_impact(conn, seq, impact)
            incident_repo.append_event(conn, seq, event, idempotency_key=key)

        await asyncio.to_thread(env.db.transact, store)
        return await self._preserve(ctx, env, seq, impact)

    async def _preserve(
        self, ctx: ActionContext, env: ActionEnvironment, seq: int, impact: dict[str, Any]
    ) -> ActionResult:
        service = env.evidence
        await asyncio.to_thread(
            service.add,
            seq,
            [ItemDraft.json("impact", "impact.json", impact)],
            ctx.actor,
            key_prefix=ctx.idempotency_key,
        )
        return ActionResult(
            detail={
                "records": impact["records"],
                "users": impact["user_count"],
                "entities": impact["entities"],
                "scanned": impact["scanned"],
            }
        )

    def describe(self, ctx: ActionContext) -> str:
        lookback = _int_param(ctx, "lookback_seconds", DEFAULT_LOOKBACK_SECONDS)
        return (
            f"{self.name}: scan captures and alert samples from {lookback}s before the first"
            " alert until now with the PII/secret detectors"
        )


def default_template() -> str:
    return (resources.files("defib.actions") / "templates" / "affected_user.txt.j2").read_text(
        encoding="utf-8"
    )


def _user_hash(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:12]


class NotifyUsersAction:
    """params: `template` (Jinja2 text; default: the package's `affected_user.txt.j2`),
    `subject` (template), `max_users` (refuse to mail more than this many; default 10000).

    Addresses come from `notifications.affected_users` (the operator's directory), never
    from the user ids themselves: those are whatever a client sent."""

    name = "notify_affected_users"

    def _impact(self, env: ActionEnvironment, seq: int) -> dict[str, Any] | None:
        with env.db.read() as conn:
            return impact_repo.get_impact(conn, seq)

    def _message(
        self,
        ctx: ActionContext,
        user: str,
        address: str,
        impact: dict[str, Any],
        detected_on: str,
    ) -> tuple[str, str]:
        variables = {
            "incident": {k: ctx.incident.get(k) for k in ("id", "type", "severity", "systems")},
            "user_id": user,
            "entity_types": sorted(impact.get("entities", {})),
            "detected_on": detected_on,
        }
        subject = render_with(
            str(ctx.params.get("subject", DEFAULT_SUBJECT)), "params.subject", **variables
        )
        body = render_with(
            str(ctx.params.get("template") or default_template()), "params.template", **variables
        )
        leaked = [
            f.type
            for f in get_detector("pii").detect(subject + "\n" + body)
            if not (f.type == "EMAIL" and f.text == address)
        ]
        if leaked:
            raise ActionError(
                f"the rendered message contains personal data ({', '.join(sorted(set(leaked)))});"
                " refusing to send it: fix params.template"
            )
        return subject, body

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        seq = incident_seq(ctx)

        def load() -> tuple[dict[str, Any] | None, str]:
            with env.db.read() as conn:
                incident = incident_repo.get_incident(conn, seq)
                return impact_repo.get_impact(conn, seq), incident.detected_at.date().isoformat()

        impact, detected_on = await asyncio.to_thread(load)
        if impact is None:
            raise ActionError(
                "no impact assessment for this incident: run assess_data_impact first"
            )
        if "subjects" not in impact:
            # Assessed before issue 25: its users are whatever requests claimed to be.
            raise ActionError(
                "the impact assessment predates data-subject matching (its users are the "
                "ids requests claimed): run assess_data_impact again"
            )
        users = [str(u) for u in impact.get("users", [])]
        why = _matched_by(impact)
        if not users:
            reason = "the impact assessment found no affected users"
            if cannot := impact.get("matching", {}).get("cannot_match"):
                reason += f" ({cannot})"
            await ctx.record(USER_SKIPPED, {"action": self.name, "reason": reason}, "none")
            return ActionResult(Outcome.SKIPPED, reason=reason)
        limit = _int_param(ctx, "max_users", 10_000)
        if len(users) > limit:
            raise ActionError(f"{len(users)} affected users is more than params.max_users {limit}")
        if "address_template" in ctx.params:
            raise ActionError(
                "params.address_template is no longer supported: a user id is what a client "
                "sent; configure notifications.affected_users (a directory) instead"
            )
        recipients = await asyncio.to_thread(
            resolve, env.settings, users, str(ctx.incident.get("id", "")), env.secrets
        )
        policy = retry_policy(env.settings)
        sent = already = 0
        unreachable: list[str] = []
        failed: list[str] = []
        for user in users:
            uid = _user_hash(user)
            key = f"{ctx.idempotency_key}:user:{uid}"
            if await asyncio.to_thread(_recorded, env, key):
                already += 1
                continue
            address = recipients.addresses.get(user)
            if address is None:
                unreachable.append(user)
                await ctx.record(
                    USER_SKIPPED,
                    {
                        "action": self.name,
                        "user_id": user,
                        "matched_by": why.get(user, []),
                        "reason": recipients.refused.get(user, "no address in the directory"),
                    },
                    f"user:{uid}:unreachable",
                )
                continue
            subject, body = self._message(ctx, user, address, impact, detected_on)
            m = mailer(env, [address])
            in_doubt = await announce(
                ctx,
                env.db,
                f"user:{uid}",
                {"action": self.name, "user_id": user, "idempotency_key": key},
            )
            try:
                _, attempts = await retrying(partial(m.send_text, subject, body, key), policy)
            except DeliveryFailed as exc:
                failed.append(f"{user}: {exc}")
                await ctx.record(
                    USER_FAILED,
                    {"action": self.name, "user_id": user, "error": str(exc)},
                    f"user:{uid}:failed:{ctx.attempt}",
                )
                continue
            await ctx.record(
                USER_SENT,
                {
                    "action": self.name,
                    "user_id": user,
                    "matched_by": why.get(user, []),
                    "attempts": attempts,
                    "idempotency_key": key,
                    **({"in_doubt": True} if in_doubt else {}),
                },
                f"user:{uid}",
            )
            sent += 1
        if failed:
            raise ActionError(
                f"{len(failed)} of {len(users)} user emails failed: " + "; ".join(failed)
            )
        return ActionResult(
            detail={"sent": sent, "already": already, "not_notifiable": len(unreachable)}
        )

    def describe(self, ctx: ActionContext) -> str:
        """What approving sends: how many people at which domains (nobody's address)."""
        what = f"{self.name}: email each affected user (from the impact assessment) once"
        env = ctx.env
        try:
            impact = self._impact(env, incident_seq(ctx))
            if impact is None:
                return f"{what}; no impact assessment yet"
            users = [str(u) for u in impact.get("users", [])]
            found = resolve(env.settings, users, str(ctx.incident.get("id", "")), env.secrets)
        except ActionError as exc:
            return f"{what}; the directory could not be read: {exc}"
        # Why these people: what of theirs the leaked answers held (the approver's check).
        types = Counter(t for matched in _matched_by(impact).values() for t in matched)
        basis = ", ".join(f"{t} ({n})" for t, n in sorted(types.items()))
        matched = f"; found in the leaked answers by {basis}" if basis else ""
        claimed = int(impact.get("matching", {}).get("claimed_users_not_used", 0))
        ignored = f"; {claimed} user id(s) requests claimed are not used" if claimed else ""
        return f"{what}: {found.summary()}{matched}{ignored}"


def _sent(prompt: object) -> str:
    """A sample's prompt as text for the echo check (messages or parts as their JSON)."""
    if prompt is None or isinstance(prompt, str):
        return prompt or ""
    return json.dumps(prompt, ensure_ascii=False, default=str)


def _matched_by(impact: dict[str, Any]) -> dict[str, list[str]]:
    """User id -> the identifier types of theirs found in leaked answers."""
    return {
        str(s.get("user_id")): [str(t) for t in s.get("matched_by", [])]
        for s in impact.get("subjects", [])
        if isinstance(s, dict)
    }


def _stored_impact(env: ActionEnvironment, seq: int) -> dict[str, Any]:
    with env.db.read() as conn:
        impact = impact_repo.get_impact(conn, seq)
    if impact is None:
        raise ActionError("the impact assessment recorded on the timeline is missing")
    return impact


def _recorded(env: ActionEnvironment, key: str) -> bool:
    with env.db.read() as conn:
        return evidence_repo.timeline_key_exists(conn, key)
