"""One open incident per fingerprint and one active run per (incident, playbook), enforced
by the database on both dialects: the losing insert writes nothing and says so."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import func, select

from defib.model import Incident, IncidentType, Severity, Status
from defib.playbooks.runs import Run, RunStatus, RunStep
from defib.store import incidents as incident_repo
from defib.store import runs as run_repo
from defib.store.database import Database
from defib.store.tables import incidents, playbook_run_steps, playbook_runs

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _draft(fingerprint: str) -> Incident:
    return Incident(
        seq=0,
        type=IncidentType.PERFORMANCE,
        severity=Severity.SEV3,
        title="slow",
        status=Status.DETECTED,
        detected_at=T0,
        fingerprint=fingerprint,
        first_seen_at=T0,
        last_seen_at=T0,
        created_by="test",
    )


def _run(run_id: str, seq: int) -> Run:
    return Run(
        id=run_id,
        incident_seq=seq,
        playbook="performance",
        playbook_version="1",
        playbook_digest="d",
        spec={},
        status=RunStatus.PENDING,
        dry_run=False,
        trigger="auto",
        created_by="test",
        created_at=T0,
        generation=0,
        workflow_id=f"{run_id}-0",
        steps=(RunStep(index=0, name="notify", action="notify", status=RunStatus.PENDING),),
    )


def test_a_second_open_incident_for_a_fingerprint_is_not_inserted(db: Database) -> None:
    with db.write() as conn:
        first = incident_repo.insert_incident_unless_open(conn, _draft("fp-1"), T0)
        second = incident_repo.insert_incident_unless_open(conn, _draft("fp-1"), T0)
        other = incident_repo.insert_incident_unless_open(conn, _draft("fp-2"), T0)
    assert first is not None and first.seq > 0 and first.fingerprint == "fp-1"
    assert second is None
    assert other is not None and other.seq != first.seq
    with db.read() as conn:
        count = conn.execute(
            select(func.count()).select_from(incidents).where(incidents.c.fingerprint == "fp-1")
        ).scalar_one()
    assert count == 1


def test_a_resolved_incident_frees_its_fingerprint(db: Database) -> None:
    with db.write() as conn:
        first = incident_repo.insert_incident_unless_open(conn, _draft("fp-3"), T0)
        assert first is not None
        resolved = dataclasses.replace(first, status=Status.RESOLVED, resolved_at=T0)
        incident_repo.update_incident(conn, resolved, T0)
        again = incident_repo.insert_incident_unless_open(conn, _draft("fp-3"), T0)
    assert again is not None and again.seq != first.seq


def test_a_second_active_run_of_a_playbook_writes_nothing(db: Database) -> None:
    with db.write() as conn:
        incident = incident_repo.insert_incident_unless_open(conn, _draft("fp-4"), T0)
        assert incident is not None
        assert run_repo.insert_run(conn, _run("run-a", incident.seq), T0)
        assert not run_repo.insert_run(conn, _run("run-b", incident.seq), T0)
    with db.read() as conn:
        runs = conn.execute(select(playbook_runs.c.id)).scalars().all()
        steps = conn.execute(select(playbook_run_steps.c.run_id)).scalars().all()
    assert list(runs) == ["run-a"]
    assert list(steps) == ["run-a"]
