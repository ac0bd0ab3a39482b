"""The postmortem as a plain document (pure): built from what defib stored, JSON-ready.

Renderers (Markdown, HTML) and the AI Incident Database export read only this document,
so every format says the same thing; its sentences come from `defib.incidents.story`, so it
says what the console and `defib timeline` say: detection, each act with its result and actor, the
rollback, the approvals and who gave them, what was verified and how, open questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from defib.events import TimelineKind
from defib.incidents import story
from defib.model import Incident, TimelineEvent
from defib.playbooks.runs import Run
from defib.timefmt import normalise, rfc3339

SCHEMA_VERSION = 1
# What a shareable document keeps of the impact assessment: counts, never who or what.
IMPACT_KEYS = ("assessed_at", "window", "systems", "scanned", "truncated", "records", "entities")
_STAGES = (
    ("acknowledge", "acknowledged_at"),
    ("mitigate", "mitigated_at"),
    ("resolve", "resolved_at"),
    ("close", "closed_at"),
)


def _iso(t: datetime | None) -> str | None:
    # The API's one instant format (RFC 3339, UTC, `Z`): the document is served as JSON too.
    return rfc3339(t) if t is not None else None


def is_automated(actor: str) -> bool:
    """Playbook runs and defib itself, as opposed to a person's token."""
    return actor == "system" or actor.startswith("run:")


def describe(event: TimelineEvent) -> str:
    """One sentence for an event, as the console says it (pure)."""
    return story.tell([event])[0].text


# What the "verified" section reads: each verification's verdict and how it was reached.
_VERIFY_KINDS = frozenset(
    {
        TimelineKind.STEP_VERIFIED,
        TimelineKind.STEP_UNVERIFIED,
        TimelineKind.STEP_VERIFICATION_FAILED,
        TimelineKind.STEP_VERIFICATION_SKIPPED,
    }
)


def _line(line: story.Line) -> dict[str, Any]:
    return {
        "at": _iso(line.at),
        "actor": line.raw_actor,
        "who": line.actor,
        "kind": line.kind,
        "what": line.text,
        "result": line.tone.value,
    }


def detection(incident: Incident, events: Sequence[TimelineEvent]) -> dict[str, Any]:
    """How defib learned of it: the first alert (source, title, defib's reason), or by hand."""
    created = next((e for e in events if e.kind == TimelineKind.CREATED), None)
    data = created.data if created is not None else {}
    found = data.get("alert")
    alert: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return {
        "at": _iso(incident.detected_at),
        "how": str(data.get("how") or ("alert" if alert else "declared")),
        "by": created.actor if created is not None else None,
        "source": alert.get("source"),
        "alert": alert.get("title"),
        "reason": alert.get("reason"),
        "alerts_folded_in": incident.alert_count,
    }


def rollbacks(events: Sequence[TimelineEvent], runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Every version change defib or a person made: system, from, to, when, by whom."""
    out = []
    for e in events:
        d = e.data
        if e.kind == TimelineKind.SYSTEM_STATE_CHANGED and d.get("change") == "route":
            if d.get("changed") is False:
                continue
            out.append(
                {
                    "at": _iso(e.at),
                    "actor": e.actor,
                    "who": story.who(e.actor, {r.id: r.playbook for r in runs}),
                    "system": d.get("system"),
                    "from": d.get("marked_bad"),
                    "to": d.get("to_version"),
                    "rollback": bool(d.get("marked_bad")),
                }
            )
    return out


def approvals(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Each decided approval step: what it let the playbook do, the decision and who gave it."""
    out = []
    for r in runs:
        if r.dry_run:
            continue
        for s in r.steps:
            if not s.approval:
                continue
            out.append(
                {
                    "run": r.id,
                    "step": s.name,
                    "decision": s.approval.get("decision"),
                    "by": s.approval.get("by"),
                    # Stored by the engine as isoformat() (`+00:00`); the document says `Z`.
                    "at": normalise(s.approval.get("at")),
                    "note": s.approval.get("note"),
                    "then": s.status.value,
                    "why": _step_reason(s),
                }
            )
    return out


def _step_reason(s: Any) -> str | None:
    """Why a step ended as it did, when it did not simply succeed (without the step's name,
    which actions put first and every place that shows the reason already names)."""
    if s.status.value == "succeeded":
        return None
    output = s.output or {}
    reason = output.get("reason") if isinstance(output, Mapping) else None
    return str(reason or s.error or "").removeprefix(f"{s.name}: ") or None


def open_questions(
    incident: Incident,
    runs: Sequence[Run],
    impact: Mapping[str, Any] | None,
    review: Mapping[str, Any],
) -> list[str]:
    """What the record cannot answer yet: what waits for a person, gaps in the review."""
    asks = story.waiting_for_you(
        status=incident.status.value, needs_triage=incident.needs_triage, runs=runs
    )
    out = [a.text for a in asks if a.kind is not story.AskKind.APPROVE]
    out += [f"{a.text}: still undecided" for a in asks if a.kind is story.AskKind.APPROVE]
    if impact and impact.get("truncated"):
        out.append("The impact assessment was truncated: how many more users were affected?")
    if incident.status.is_open:
        out.append(f"The incident is still {incident.status.value}: is it over?")
    if not review.get("contributing_factors"):
        out.append("What caused it? No contributing factor is recorded yet.")
    if not review.get("action_items"):
        out.append("What stops it happening again? No action item is recorded yet.")
    return out


def durations(incident: Incident) -> dict[str, Any]:
    start = incident.reopened_at or incident.detected_at
    out: dict[str, Any] = {
        "detected_at": _iso(incident.detected_at),
        "reopened_at": _iso(incident.reopened_at),
    }
    for stage, attr in _STAGES:
        at: datetime | None = getattr(incident, attr)
        out[attr] = _iso(at)
        out[f"time_to_{stage}_seconds"] = (
            round((at - start).total_seconds(), 3) if at is not None else None
        )
    out["reopen_count"] = incident.reopen_count
    return out


def _step(s: Any) -> dict[str, Any]:
    took = (
        round((s.ended_at - s.started_at).total_seconds(), 3)
        if s.started_at is not None and s.ended_at is not None
        else None
    )
    return {
        "index": s.index,
        "name": s.name,
        "action": s.action,
        "status": s.status.value,
        "attempts": s.attempts,
        "started_at": _iso(s.started_at),
        "ended_at": _iso(s.ended_at),
        "duration_seconds": took,
        "error": s.error,
        "reason": _step_reason(s),
        "approval": (
            {k: s.approval.get(k) for k in ("decision", "by", "note")}
            | {"at": normalise(s.approval.get("at"))}
            if s.approval
            else None
        ),
    }


def by_a_person(event: TimelineEvent) -> bool:
    """What people did: their acts, not the alerts their monitors sent in under a token, nor
    the runs those alerts planned."""
    if is_automated(event.actor) or event.kind.startswith("alert_"):
        return False
    if event.kind in (TimelineKind.RUN_PLANNED, TimelineKind.PLAYBOOK_DEFERRED):
        return event.data.get("trigger") == "manual"
    return not (event.kind == TimelineKind.CREATED and event.data.get("how") == "alert")


def mitigated_by(events: Sequence[TimelineEvent]) -> str | None:
    """'playbook' when the latest move to mitigated was a run's, 'person' otherwise."""
    movers = [
        e.actor
        for e in events
        if e.kind == TimelineKind.TRANSITION and e.data.get("to") == "mitigated"
    ]
    if not movers:
        return None
    return "playbook" if is_automated(movers[-1]) else "person"


def build(
    *,
    incident: Incident,
    events: Sequence[TimelineEvent],
    runs: Sequence[Run],
    evidence: Sequence[Mapping[str, Any]],
    verification: Mapping[str, Any],
    impact: Mapping[str, Any] | None,
    taxonomy: Mapping[str, Any],
    review: Mapping[str, Any],
    generated_at: datetime,
) -> dict[str, Any]:
    summary = str(review.get("summary") or "").strip() or (
        f"{incident.type.value} incident {incident.id} ({incident.severity.value}) on "
        f"{', '.join(incident.affected_systems) or 'no named system'}: {incident.title}"
    )
    lines = story.tell(events)
    by_event = dict(zip(map(id, events), lines, strict=True))
    done = story.what_was_done(lines)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _iso(generated_at),
        "incident": {
            "id": incident.id,
            "type": incident.type.value,
            "severity": incident.severity.value,
            "status": incident.status.value,
            "title": incident.title,
            "description": incident.description,
            "affected_systems": list(incident.affected_systems),
            "commander": incident.commander,
            "alert_count": incident.alert_count,
        },
        "summary": summary,
        "impact": (
            {k: normalise(impact[k]) for k in IMPACT_KEYS if k in impact}
            | {"users_affected": impact.get("user_count", len(impact.get("users", [])))}
            if impact
            else None
        ),
        "durations": durations(incident),
        "mitigated_by": mitigated_by(events),
        "detection": detection(incident, events),
        "actions": [_line(line) for line in done],
        "rollbacks": rollbacks(events, runs),
        "approvals": approvals(runs),
        "verification": [_line(line) for line in lines if line.kind in _VERIFY_KINDS],
        "open_questions": open_questions(incident, runs, impact, review),
        "timeline": [_line(line) for line in lines],
        "playbook_runs": [
            {
                "id": r.id,
                "playbook": r.playbook,
                "version": r.playbook_version,
                "status": r.status.value,
                "trigger": r.trigger,
                "started_at": _iso(r.started_at),
                "ended_at": _iso(r.ended_at),
                "steps": [
                    _step(s)
                    | {
                        "said": [
                            line.text
                            for line in done
                            if line.step == s.name and line.raw_actor == f"run:{r.id}"
                        ]
                    }
                    for s in r.steps
                ],
            }
            for r in runs
            if not r.dry_run
        ],
        "people": [
            _line(by_event[id(e)]) for e in events if by_a_person(e) and by_event[id(e)].acted
        ],
        "evidence": {
            "items": [
                {
                    "n": i["n"],
                    "kind": i["kind"],
                    "name": i["name"],
                    "size": i["size"],
                    "sha256": i["sha256"],
                    "chain_hash": i["chain_hash"],
                    "collected_at": _iso(i["collected_at"])
                    if isinstance(i["collected_at"], datetime)
                    else i["collected_at"],
                }
                for i in evidence
            ],
            "verification": dict(verification),
        },
        "taxonomy": dict(taxonomy),
        "review": {
            "contributing_factors": list(review.get("contributing_factors", [])),
            "lessons": list(review.get("lessons", [])),
            "action_items": list(review.get("action_items", [])),
            "updated_by": review.get("updated_by"),
            "updated_at": normalise(review.get("updated_at")),
        },
    }
