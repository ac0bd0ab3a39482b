"""Which incidents wait for a person (the console's urgency order and its nav count)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from defib.model import OPEN_STATUSES
from defib.playbooks.runs import RunStatus
from defib.store.tables import incidents, playbook_run_steps, playbook_runs

# A run in one of these states has asked a person for something it cannot do itself.
WAITING_RUNS = (
    RunStatus.WAITING_APPROVAL.value,
    RunStatus.NEEDS_ATTENTION.value,
    RunStatus.FAILED.value,
    RunStatus.TIMED_OUT.value,
)


def incidents_waiting(conn: Connection) -> dict[int, str]:
    """Open incidents whose runs wait for a person, with the most pressing reason
    (`approval`, `needs_attention`, `failed`); dry runs ask nobody."""
    rows = conn.execute(
        select(playbook_runs.c.incident_seq, playbook_runs.c.status)
        .join(incidents, incidents.c.seq == playbook_runs.c.incident_seq)
        .where(playbook_runs.c.status.in_(WAITING_RUNS))
        .where(playbook_runs.c.dry_run.is_(False))
        .where(incidents.c.status.in_([s.value for s in OPEN_STATUSES]))
    )
    # The reason shown is the most pressing one of the incident's runs.
    reason_of = {
        "waiting_approval": "approval",
        "needs_attention": "needs_attention",
        "failed": "failed",
        "timed_out": "failed",
    }
    rank = {"approval": 0, "needs_attention": 1, "failed": 2}
    out: dict[int, str] = {}
    for seq, status in rows:
        reason = reason_of[str(status)]
        known = out.get(int(seq))
        if known is None or rank[reason] < rank[known]:
            out[int(seq)] = reason
    return out


def approvals_waiting(conn: Connection) -> int:
    """How many steps wait for an approval, across incidents (the nav's count)."""
    found = conn.execute(
        select(func.count())
        .select_from(playbook_run_steps)
        .where(playbook_run_steps.c.status == RunStatus.WAITING_APPROVAL.value)
    ).scalar_one()
    return int(found)
