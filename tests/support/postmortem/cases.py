"""Two scripted incidents (a data leak the playbook contained, a hallucination people
handled) as the stored records a postmortem is built from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from defib.incidents.review import clean_review
from defib.model import Incident, IncidentType, Severity, Status, TimelineEvent
from defib.playbooks.runs import Run, RunStatus, RunStep
from defib.postmortem import document
from defib.taxonomy import load_catalogue, map_incident

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _run(
    run_id: str,
    playbook: str,
    steps: list[tuple[str, str, float, float, str]],
    extra: dict[str, dict[str, Any]] | None = None,
) -> Run:
    return Run(
        id=run_id,
        incident_seq=1,
        playbook=playbook,
        playbook_version="1",
        playbook_digest="d" * 64,
        spec={},
        status=RunStatus.SUCCEEDED,
        dry_run=False,
        trigger="incident_created",
        created_by="system",
        created_at=at(0),
        generation=0,
        workflow_id=run_id,
        started_at=at(1),
        ended_at=at(steps[-1][3]),
        steps=tuple(
            RunStep(
                index=i,
                name=name,
                action=action,
                status=RunStatus(status),
                attempts=1,
                started_at=at(start),
                ended_at=at(end),
                **(extra or {}).get(name, {}),
            )
            for i, (name, action, start, end, status) in enumerate(steps)
        ),
    )


def data_leak_incident() -> Incident:
    return Incident(
        seq=7,
        type=IncidentType.DATA_LEAK,
        severity=Severity.SEV1,
        title="support-bot returns customer emails",
        description="PII detector: 12 emails in responses of support-bot v2",
        status=Status.RESOLVED,
        detected_at=at(0),
        affected_systems=("support-bot",),
        alert_count=3,
        commander="alice",
        acknowledged_at=at(60),
        mitigated_at=at(95),
        resolved_at=at(5400),
    )


def data_leak_run() -> Run:
    return _run(
        "r0000000000100000001",
        "data_leak",
        [
            ("disable_endpoint", "disable_endpoint", 1, 1.2, "succeeded"),
            ("notify_security_team", "notify_security_team", 1.2, 2.0, "succeeded"),
            ("preserve_evidence", "preserve_evidence", 2.0, 2.6, "succeeded"),
            ("assess_data_impact", "assess_data_impact", 2.6, 4.1, "succeeded"),
            ("rollback_model", "rollback_model", 4.1, 5.0, "succeeded"),
            ("verify_endpoint", "verify_endpoint", 5.0, 95, "succeeded"),
            ("notify_affected_users", "notify_affected_users", 95, 400, "skipped"),
        ],
        {
            "notify_affected_users": {
                "approval": {
                    "decision": "approve",
                    "by": "alice",
                    "note": "DPO agrees",
                    "at": at(399).isoformat(),
                },
                "output": {
                    "reason": "notify_affected_users: none of the 2 affected users is in the"
                    " directory (notifications.affected_users)"
                },
            }
        },
    )


def data_leak_events() -> list[TimelineEvent]:
    run = data_leak_run()
    actor = f"run:{run.id}"
    return [
        TimelineEvent(
            at(0),
            "gateway",
            "created",
            {
                "how": "alert",
                "type": "data_leak",
                "severity": "SEV1",
                "systems": ["support-bot"],
                "alert": {
                    "title": "support-bot: personal data in model responses",
                    "source": "defib-gateway",
                    "reason": "explicit type data_leak set by the sender",
                },
            },
        ),
        TimelineEvent(
            at(0),
            "gateway",
            "run_planned",
            {"run_id": run.id, "playbook": "data_leak", "trigger": "auto", "dry_run": False},
        ),
        TimelineEvent(
            at(1),
            actor,
            "run_step_started",
            {"step": "disable_endpoint", "index": 0, "action": "disable_endpoint", "attempt": 1},
        ),
        TimelineEvent(
            at(1.1),
            actor,
            "system_state_changed",
            {
                "system": "support-bot",
                "change": "disable",
                "changed": True,
                "disabled": True,
                "active_version": "v2",
                "reason": "PII in responses",
                "idempotency_key": "r0000000000100000001:0",
            },
        ),
        TimelineEvent(
            at(1.5),
            actor,
            "run_step_notification_sent",
            {
                "step": "notify_security_team",
                "channel": "slack",
                "target": "#security",
                "idempotency_key": "r0000000000100000001:1:slack:abc",
            },
        ),
        TimelineEvent(
            at(2.6),
            actor,
            "run_step_evidence_collected",
            {
                "step": "preserve_evidence",
                "items": [{"n": 1, "name": "incident.json"}, {"n": 2, "name": "captures.jsonl"}],
            },
        ),
        TimelineEvent(
            at(4.1),
            actor,
            "run_step_impact_assessed",
            {
                "step": "assess_data_impact",
                "records": 12,
                "user_count": 2,
                "entities": {"EMAIL": 12, "PHONE": 2},
                "scanned": {"captures": 420},
                "truncated": False,
            },
        ),
        TimelineEvent(
            at(4.1),
            actor,
            "run_step_started",
            {"step": "rollback_model", "index": 4, "action": "rollback_model", "attempt": 1},
        ),
        TimelineEvent(
            at(4.5),
            actor,
            "run_step_rollback_planned",
            {
                "step": "rollback_model",
                "system": "support-bot",
                "from": "v2",
                "to": "v1",
                "why": "v1 is marked good",
            },
        ),
        TimelineEvent(
            at(4.9),
            actor,
            "system_state_changed",
            {
                "system": "support-bot",
                "change": "route",
                "changed": True,
                "to_version": "v1",
                "marked_bad": "v2",
                "active_version": "v1",
            },
        ),
        TimelineEvent(
            at(5.0),
            actor,
            "run_step_started",
            {"step": "verify_endpoint", "index": 5, "action": "verify_endpoint", "attempt": 1},
        ),
        TimelineEvent(
            at(60),
            "alice",
            "transition",
            {"from": "detected", "to": "acknowledged", "command": "acknowledge"},
        ),
        TimelineEvent(
            at(95),
            actor,
            "run_step_verified",
            {
                "step": "verify_endpoint",
                "how": "3 captured sample(s) replayed clean (pii)",
                "mitigated": "marked mitigated",
                "unverified": [],
            },
        ),
        TimelineEvent(
            at(95),
            actor,
            "transition",
            {
                "from": "acknowledged",
                "to": "mitigated",
                "command": "mitigate",
                "note": "probes pass on v1",
            },
        ),
        TimelineEvent(
            at(300), "alice", "note", {"text": "Customers in the EU region only; DPO informed."}
        ),
        TimelineEvent(
            at(399),
            "alice",
            "run_step_approved",
            {"run_id": run.id, "step": "notify_affected_users", "note": "DPO agrees"},
        ),
        TimelineEvent(
            at(400),
            actor,
            "run_step_finished",
            {
                "step": "notify_affected_users",
                "status": "skipped",
                "reason": "notify_affected_users: none of the 2 affected users is in the"
                " directory (notifications.affected_users)",
            },
        ),
        TimelineEvent(
            at(5400),
            "alice",
            "transition",
            {"from": "mitigated", "to": "resolved", "command": "resolve"},
        ),
    ]


def data_leak() -> dict[str, Any]:
    incident = data_leak_incident()
    run = data_leak_run()
    events = data_leak_events()
    evidence = [
        {
            "n": 1,
            "kind": "incident",
            "name": "incident.json",
            "size": 812,
            "sha256": "a" * 64,
            "chain_hash": "b" * 64,
            "collected_at": at(2.1),
        },
        {
            "n": 2,
            "kind": "captures",
            "name": "captures.jsonl",
            "size": 20480,
            "sha256": "c" * 64,
            "chain_hash": "d" * 64,
            "collected_at": at(2.5),
        },
    ]
    impact = {
        "assessed_at": at(4.1).isoformat(),
        "window": {"start": at(-3600).isoformat(), "end": at(4.1).isoformat()},
        "systems": ["support-bot"],
        "scanned": {"captures": 420, "alert_samples": 3},
        "truncated": False,
        "records": 12,
        "record_refs": ["capture:1", "capture:2"],
        "entities": {"EMAIL": 12, "PHONE": 2},
        "users": ["u-17", "u-42"],
        "user_count": 2,
    }
    review = clean_review(
        {},
        {
            "summary": (
                "v2 of support-bot echoed other customers' emails; the playbook disabled it "
                "in 1 s and rolled back to v1."
            ),
            "contributing_factors": ["v2 was trained on unredacted support transcripts"],
            "lessons": ["Run the PII probe before marking a version good"],
            "action_items": [
                {"text": "Redact transcripts before fine-tuning", "owner": "ml-platform"}
            ],
        },
    )
    mapping = map_incident("data_leak", document_texts(incident, events))
    return document.build(
        incident=incident,
        events=events,
        runs=[run],
        evidence=evidence,
        verification={"ok": True, "items": 2, "head": "d" * 64, "first_broken": None, "broken": []},
        impact=impact,
        taxonomy=mapping.to_dict(load_catalogue()),
        review={**review, "updated_by": "alice", "updated_at": at(6000).isoformat()},
        generated_at=at(7200),
    )


def hallucination() -> dict[str, Any]:
    incident = Incident(
        seq=12,
        type=IncidentType.HALLUCINATION,
        severity=Severity.SEV3,
        title="pricing-assistant invents discount codes",
        description="Grounding check: 30% of answers cite codes absent from the catalogue",
        status=Status.CLOSED,
        detected_at=at(0),
        affected_systems=("pricing-assistant",),
        alert_count=1,
        acknowledged_at=at(600),
        mitigated_at=at(2700),
        resolved_at=at(86400),
        closed_at=at(172800),
    )
    events = [
        TimelineEvent(
            at(0),
            "alertmanager",
            "created",
            {"how": "alert", "type": "hallucination", "severity": "SEV3"},
        ),
        TimelineEvent(
            at(600),
            "bob",
            "transition",
            {"from": "detected", "to": "acknowledged", "command": "acknowledge"},
        ),
        TimelineEvent(
            at(2700),
            "bob",
            "transition",
            {
                "from": "acknowledged",
                "to": "mitigated",
                "command": "mitigate",
                "note": "routed to v3 | prompt fixed",
            },
        ),
        TimelineEvent(
            at(86400),
            "bob",
            "transition",
            {"from": "mitigated", "to": "resolved", "command": "resolve"},
        ),
        TimelineEvent(
            at(172800),
            "bob",
            "transition",
            {"from": "resolved", "to": "closed", "command": "close"},
        ),
    ]
    mapping = map_incident("hallucination", document_texts(incident, events))
    return document.build(
        incident=incident,
        events=events,
        runs=[],
        evidence=[],
        verification={"ok": True, "items": 0, "head": None, "first_broken": None, "broken": []},
        impact=None,
        taxonomy=mapping.to_dict(load_catalogue()),
        review={**clean_review({}, {}), "updated_by": None, "updated_at": None},
        generated_at=at(180000),
    )


def document_texts(incident: Incident, events: list[TimelineEvent]) -> list[str]:
    from defib.incidents.review import evidence_text

    return evidence_text(incident, events)
