"""The postmortem as a plain document (pure): built from what defib stored, JSON-ready.

Renderers (Markdown, HTML) and the AI Incident Database export read only this document,
so every format says the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from defib.model import Incident, TimelineEvent
from defib.playbooks.runs import Run

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
    return t.isoformat() if t is not None else None


def is_automated(actor: str) -> bool:
    """Playbook runs and defib itself, as opposed to a person's token."""
    return actor == "system" or actor.startswith("run:")


def describe(event: TimelineEvent) -> str:
    """One line for an event (pure)."""
    d = event.data
    if event.kind == "transition":
        text = f"{d.get('from')} → {d.get('to')}"
        return f"{text}: {d['note']}" if d.get("note") else text
    if event.kind == "note":
        return str(d.get("text", ""))
    if event.kind == "created":
        return f"opened ({d.get('how', 'alert')}) as {d.get('type')} {d.get('severity')}"
    if event.kind == "severity_changed":
        return f"severity {d.get('from')} → {d.get('to')}"
    if event.kind.startswith("step_") or event.kind.startswith("run_"):
        bits = [str(d[k]) for k in ("step", "name", "action", "status") if k in d]
        return " ".join(bits) or event.kind
    keys = ", ".join(sorted(d)[:6])
    return f"{event.kind} ({keys})" if keys else event.kind


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
        "approval": (
            {k: s.approval.get(k) for k in ("decision", "by", "note", "at")} if s.approval else None
        ),
    }


def by_a_person(event: TimelineEvent) -> bool:
    """What people did: their acts, not the alerts their monitors sent in under a token."""
    if is_automated(event.actor) or event.kind.startswith("alert_"):
        return False
    return not (event.kind == "created" and event.data.get("how") == "alert")


def mitigated_by(events: Sequence[TimelineEvent]) -> str | None:
    """'playbook' when the latest move to mitigated was a run's, 'person' otherwise."""
    movers = [e.actor for e in events if e.kind == "transition" and e.data.get("to") == "mitigated"]
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
            {k: impact[k] for k in IMPACT_KEYS if k in impact}
            | {"users_affected": impact.get("user_count", len(impact.get("users", [])))}
            if impact
            else None
        ),
        "durations": durations(incident),
        "mitigated_by": mitigated_by(events),
        "timeline": [
            {"at": _iso(e.at), "actor": e.actor, "kind": e.kind, "what": describe(e)}
            for e in events
        ],
        "playbook_runs": [
            {
                "id": r.id,
                "playbook": r.playbook,
                "version": r.playbook_version,
                "status": r.status.value,
                "trigger": r.trigger,
                "started_at": _iso(r.started_at),
                "ended_at": _iso(r.ended_at),
                "steps": [_step(s) for s in r.steps],
            }
            for r in runs
            if not r.dry_run
        ],
        "people": [
            {"at": _iso(e.at), "actor": e.actor, "kind": e.kind, "what": describe(e)}
            for e in events
            if by_a_person(e)
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
            "updated_at": review.get("updated_at"),
        },
    }
