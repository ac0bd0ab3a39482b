"""Read-only queries behind the console's overview pages. Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from defib.model import OPEN_STATUSES, Severity
from defib.playbooks.runs import RunStatus, step_key
from defib.store.tables import alerts, incidents, playbook_run_steps, playbook_runs, timeline_events


def open_counts_by_severity(conn: Connection) -> dict[Severity, int]:
    """How many incidents are open at each severity (every severity present, zeros too)."""
    rows = conn.execute(
        select(incidents.c.severity, func.count())
        .where(incidents.c.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(incidents.c.severity)
    ).all()
    counts = dict.fromkeys(Severity, 0)
    for severity, n in rows:
        counts[Severity(severity)] = int(n)
    return counts


def recent_alerts(
    conn: Connection, *, limit: int, before_id: int | None = None
) -> list[dict[str, Any]]:
    """Alerts newest first, whatever defib did with them (incl. ignored ones and why)."""
    query = select(
        alerts.c.id,
        alerts.c.received_at,
        alerts.c.format,
        alerts.c.source,
        alerts.c.status,
        alerts.c.action,
        alerts.c.incident_seq,
        alerts.c.type,
        alerts.c.severity,
        alerts.c.reason,
        alerts.c.payload,
    ).order_by(alerts.c.id.desc())
    if before_id is not None:
        query = query.where(alerts.c.id < before_id)
    return [dict(r) for r in conn.execute(query.limit(limit)).mappings()]


@dataclass(frozen=True, slots=True)
class WaitingStep:
    """A playbook step waiting for a person's decision."""

    run_id: str
    incident_seq: int
    incident_title: str
    incident_severity: Severity
    index: int
    name: str
    action: str
    role: str
    asks: str
    waiting_since: datetime | None
    deadline_at: datetime | None


def waiting_steps(conn: Connection, *, limit: int = 500) -> list[WaitingStep]:
    """Every step waiting for approval, across incidents, oldest first."""
    rows = (
        conn.execute(
            select(
                playbook_run_steps.c.run_id,
                playbook_run_steps.c.idx,
                playbook_run_steps.c.name,
                playbook_run_steps.c.action,
                playbook_run_steps.c.started_at,
                playbook_run_steps.c.deadline_at,
                playbook_runs.c.incident_seq,
                playbook_runs.c.generation,
                playbook_runs.c.spec,
                incidents.c.title,
                incidents.c.severity,
            )
            .join(playbook_runs, playbook_runs.c.id == playbook_run_steps.c.run_id)
            .join(incidents, incidents.c.seq == playbook_runs.c.incident_seq)
            .where(playbook_run_steps.c.status == RunStatus.WAITING_APPROVAL.value)
            .order_by(playbook_run_steps.c.started_at, playbook_run_steps.c.run_id)
            .limit(limit)
        )
        .mappings()
        .all()
    )
    # What approving lets each step do is on its "waiting" timeline event (unique key).
    keys = {f"{step_key(r['run_id'], r['idx'], r['generation'])}:waiting": r for r in rows}
    asks: dict[str, str] = {}
    if keys:
        for key, data in conn.execute(
            select(timeline_events.c.idempotency_key, timeline_events.c.data).where(
                timeline_events.c.idempotency_key.in_(list(keys))
            )
        ):
            asks[key] = str((data or {}).get("asks") or "")
    out = []
    for key, r in keys.items():
        out.append(
            WaitingStep(
                run_id=r["run_id"],
                incident_seq=r["incident_seq"],
                incident_title=r["title"],
                incident_severity=Severity(r["severity"]),
                index=r["idx"],
                name=r["name"],
                action=r["action"],
                role=_approval_role(r["spec"], r["idx"]),
                asks=asks.get(key, ""),
                waiting_since=r["started_at"],
                deadline_at=r["deadline_at"],
            )
        )
    return out


def _approval_role(spec: Any, index: int) -> str:
    try:
        role = spec["steps"][index]["approval"]["role"]
    except (KeyError, IndexError, TypeError):
        return "responder"
    return str(role)
