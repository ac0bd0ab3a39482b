"""Repository for playbook runs, their steps and engine heartbeats. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from defib.model import NotFound
from defib.playbooks.runs import ACTIVE_RUN_STATUSES, Run, RunStatus, RunStep
from defib.store.tables import (
    engine_heartbeats,
    playbook_run_steps,
    playbook_runs,
    timeline_events,
)
from defib.store.upsert import per_dialect, pick

_ACTIVE = [s.value for s in ACTIVE_RUN_STATUSES]


def _step_from_row(r: RowMapping) -> RunStep:
    return RunStep(
        index=r["idx"],
        name=r["name"],
        action=r["action"],
        status=RunStatus(r["status"]),
        attempts=r["attempts"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        error=r["error"],
        output=r["output"],
        approval=r["approval"],
        deadline_at=r["deadline_at"],
    )


def _run_from_row(r: RowMapping, steps: Sequence[RunStep] = ()) -> Run:
    return Run(
        id=r["id"],
        incident_seq=r["incident_seq"],
        playbook=r["playbook"],
        playbook_version=r["playbook_version"],
        playbook_digest=r["playbook_digest"],
        spec=r["spec"],
        status=RunStatus(r["status"]),
        dry_run=bool(r["dry_run"]),
        trigger=r["trigger"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        generation=r["generation"],
        workflow_id=r["workflow_id"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        error=r["error"],
        steps=tuple(steps),
    )


# Built once: a new run is planned in intake's transaction for every new incident. ON
# CONFLICT DO NOTHING (any unique index: the active-run slot) instead of a savepoint around
# the insert: a savepoint and its release were a third of planning a run (issue 15).
_INSERT_RUN = per_dialect(
    lambda ins: ins(playbook_runs).on_conflict_do_nothing().returning(playbook_runs.c.id)
)
_INSERT_STEPS = insert(playbook_run_steps)


def insert_run(conn: Connection, run: Run, now: datetime) -> bool:
    """Insert a pending run and its steps; False when the (incident, playbook) slot is taken."""
    values = {
        "id": run.id,
        "incident_seq": run.incident_seq,
        "playbook": run.playbook,
        "playbook_version": run.playbook_version,
        "playbook_digest": run.playbook_digest,
        "spec": run.spec,
        "status": run.status.value,
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "created_by": run.created_by,
        "created_at": run.created_at,
        "generation": run.generation,
        "workflow_id": run.workflow_id,
        "updated_at": now,
    }
    if conn.execute(pick(conn, _INSERT_RUN), values).first() is None:
        return False
    if run.steps:
        conn.execute(
            _INSERT_STEPS,
            [
                {
                    "run_id": run.id,
                    "idx": s.index,
                    "name": s.name,
                    "action": s.action,
                    "status": s.status.value,
                    "attempts": 0,
                    "updated_at": now,
                }
                for s in run.steps
            ],
        )
    return True


def get_run(conn: Connection, run_id: str, *, for_update: bool = False) -> Run:
    query = select(playbook_runs).where(playbook_runs.c.id == run_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no run {run_id}")
    return _run_from_row(row, list_steps(conn, run_id))


def get_step(conn: Connection, run_id: str, index: int) -> RunStep:
    row = (
        conn.execute(
            select(playbook_run_steps).where(
                playbook_run_steps.c.run_id == run_id, playbook_run_steps.c.idx == index
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"run {run_id} has no step {index}")
    return _step_from_row(row)


def get_run_status(conn: Connection, run_id: str) -> RunStatus:
    status = conn.execute(
        select(playbook_runs.c.status).where(playbook_runs.c.id == run_id)
    ).scalar()
    if status is None:
        raise NotFound(f"no run {run_id}")
    return RunStatus(status)


def event_recorded(conn: Connection, idempotency_key: str) -> bool:
    """Whether the timeline already holds the event written with this idempotency key."""
    found = conn.execute(
        select(timeline_events.c.idempotency_key).where(
            timeline_events.c.idempotency_key == idempotency_key
        )
    ).first()
    return found is not None


def active_runs(conn: Connection, limit: int = 1000) -> list[Run]:
    """Runs not yet ended (pending, running, waiting), oldest first, with their steps."""
    rows = (
        conn.execute(
            select(playbook_runs)
            .where(playbook_runs.c.status.in_(_ACTIVE))
            .order_by(playbook_runs.c.id)
            .limit(limit)
        )
        .mappings()
        .all()
    )
    return _with_steps(conn, rows)


def _with_steps(conn: Connection, rows: Sequence[RowMapping]) -> list[Run]:
    """Runs from rows, their steps read in one query."""
    steps: dict[str, list[RunStep]] = {r["id"]: [] for r in rows}
    if steps:
        found = conn.execute(
            select(playbook_run_steps)
            .where(playbook_run_steps.c.run_id.in_(list(steps)))
            .order_by(playbook_run_steps.c.run_id, playbook_run_steps.c.idx)
        ).mappings()
        for s in found:
            steps[s["run_id"]].append(_step_from_row(s))
    return [_run_from_row(r, steps[r["id"]]) for r in rows]


def runs_page(
    conn: Connection,
    *,
    statuses: Iterable[RunStatus] = (),
    before_id: str | None = None,
    limit: int = 50,
) -> list[Run]:
    """Runs of every incident, newest first (run ids sort by creation), `limit` at most."""
    query = select(playbook_runs)
    wanted = [s.value for s in statuses]
    if wanted:
        query = query.where(playbook_runs.c.status.in_(wanted))
    if before_id is not None:
        query = query.where(playbook_runs.c.id < before_id)
    rows = conn.execute(query.order_by(playbook_runs.c.id.desc()).limit(limit)).mappings().all()
    return _with_steps(conn, rows)


def list_steps(conn: Connection, run_id: str) -> list[RunStep]:
    rows = conn.execute(
        select(playbook_run_steps)
        .where(playbook_run_steps.c.run_id == run_id)
        .order_by(playbook_run_steps.c.idx)
    ).mappings()
    return [_step_from_row(r) for r in rows]


def list_runs(conn: Connection, incident_seq: int) -> list[Run]:
    """An incident's runs, newest first, with their steps."""
    rows = (
        conn.execute(
            select(playbook_runs)
            .where(playbook_runs.c.incident_seq == incident_seq)
            .order_by(playbook_runs.c.created_at.desc(), playbook_runs.c.id.desc())
        )
        .mappings()
        .all()
    )
    return [_run_from_row(r, list_steps(conn, r["id"])) for r in rows]


def find_active(conn: Connection, incident_seq: int, playbook: str) -> Run | None:
    row = (
        conn.execute(
            select(playbook_runs).where(
                playbook_runs.c.incident_seq == incident_seq,
                playbook_runs.c.playbook == playbook,
                playbook_runs.c.status.in_(_ACTIVE),
                playbook_runs.c.dry_run.is_(False),
            )
        )
        .mappings()
        .first()
    )
    return _run_from_row(row) if row is not None else None


def pending_runs(
    conn: Connection, *, created_before: datetime | None = None, incident_seqs: Iterable[int] = ()
) -> list[tuple[str, str]]:
    """(run id, workflow id) of pending runs, oldest first."""
    query = select(playbook_runs.c.id, playbook_runs.c.workflow_id).where(
        playbook_runs.c.status == RunStatus.PENDING.value
    )
    if created_before is not None:
        query = query.where(playbook_runs.c.updated_at < created_before)
    seqs = list(incident_seqs)
    if seqs:
        query = query.where(playbook_runs.c.incident_seq.in_(seqs))
    rows = conn.execute(query.order_by(playbook_runs.c.created_at).limit(1000)).all()
    return [(r[0], r[1]) for r in rows]


def update_run(
    conn: Connection, run_id: str, now: datetime, *, only_active: bool = True, **values: Any
) -> bool:
    """Update a run; with `only_active` a run that already ended is left alone (False)."""
    conds = [playbook_runs.c.id == run_id]
    if only_active:
        conds.append(playbook_runs.c.status.in_(_ACTIVE))
    result = conn.execute(
        update(playbook_runs).where(and_(*conds)).values(updated_at=now, **values)
    )
    return bool(result.rowcount)


def move_run(
    conn: Connection, run_id: str, now: datetime, *, from_status: RunStatus, to: RunStatus
) -> bool:
    """Set a run's status to `to` only if it is `from_status` now."""
    result = conn.execute(
        update(playbook_runs)
        .where(playbook_runs.c.id == run_id, playbook_runs.c.status == from_status.value)
        .values(updated_at=now, status=to.value)
    )
    return bool(result.rowcount)


def update_step(
    conn: Connection,
    run_id: str,
    index: int,
    now: datetime,
    *,
    only_statuses: Iterable[RunStatus] | None = None,
    **values: Any,
) -> bool:
    conds = [playbook_run_steps.c.run_id == run_id, playbook_run_steps.c.idx == index]
    if only_statuses is not None:
        conds.append(playbook_run_steps.c.status.in_([s.value for s in only_statuses]))
    result = conn.execute(
        update(playbook_run_steps).where(and_(*conds)).values(updated_at=now, **values)
    )
    return bool(result.rowcount)


def update_steps(
    conn: Connection,
    run_id: str,
    now: datetime,
    *,
    from_index: int,
    only_statuses: Iterable[RunStatus],
    **values: Any,
) -> None:
    conn.execute(
        update(playbook_run_steps)
        .where(
            playbook_run_steps.c.run_id == run_id,
            playbook_run_steps.c.idx >= from_index,
            playbook_run_steps.c.status.in_([s.value for s in only_statuses]),
        )
        .values(updated_at=now, **values)
    )


# -- heartbeats ---------------------------------------------------------------------------


def beat(conn: Connection, executor_id: str, hostname: str, pid: int, now: datetime) -> None:
    result = conn.execute(
        update(engine_heartbeats)
        .where(engine_heartbeats.c.executor_id == executor_id)
        .values(seen_at=now, hostname=hostname, pid=pid, recovered_at=None)
    )
    if result.rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(engine_heartbeats).values(
                        executor_id=executor_id,
                        hostname=hostname,
                        pid=pid,
                        started_at=now,
                        seen_at=now,
                    )
                )
        except IntegrityError:
            pass


def expired_executors(conn: Connection, seen_before: datetime) -> list[str]:
    """Executors whose last beat is older than `seen_before` and not yet recovered."""
    rows = conn.execute(
        select(engine_heartbeats.c.executor_id).where(
            engine_heartbeats.c.seen_at < seen_before,
            engine_heartbeats.c.recovered_at.is_(None),
        )
    ).all()
    return [r[0] for r in rows]


def mark_recovered(conn: Connection, executor_id: str, now: datetime) -> None:
    conn.execute(
        update(engine_heartbeats)
        .where(engine_heartbeats.c.executor_id == executor_id)
        .values(recovered_at=now)
    )
