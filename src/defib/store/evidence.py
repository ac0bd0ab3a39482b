"""Repository functions for evidence items and the records evidence is collected from.

Callers own the transaction. Rows are only ever inserted; `delete_items` exists for
retention after an incident is over, and the service refuses it while the incident is open.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select

from defib.store.tables import (
    alerts,
    evidence_anchor_failures,
    evidence_blobs,
    evidence_checkpoints,
    evidence_items,
    evidence_keys,
    playbook_run_steps,
    playbook_runs,
    timeline_events,
)
from defib.store.upsert import per_dialect, pick


def _item(row: RowMapping) -> dict[str, Any]:
    return dict(row)


def list_items(conn: Connection, seq: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(evidence_items)
        .where(evidence_items.c.incident_seq == seq)
        .order_by(evidence_items.c.n)
    ).mappings()
    return [_item(r) for r in rows]


def get_item(conn: Connection, seq: int, n: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(evidence_items).where(
                evidence_items.c.incident_seq == seq, evidence_items.c.n == n
            )
        )
        .mappings()
        .first()
    )
    return _item(row) if row is not None else None


def last_item(conn: Connection, seq: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(evidence_items)
            .where(evidence_items.c.incident_seq == seq)
            .order_by(evidence_items.c.n.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return _item(row) if row is not None else None


def find_by_key(conn: Connection, key: str) -> dict[str, Any] | None:
    row = (
        conn.execute(select(evidence_items).where(evidence_items.c.idempotency_key == key))
        .mappings()
        .first()
    )
    return _item(row) if row is not None else None


def items_of_step(conn: Connection, seq: int, run_id: str, index: int) -> list[dict[str, Any]]:
    """An incident's items a step collected, in every generation (`<run>:<index>:...`)."""
    rows = conn.execute(
        select(evidence_items)
        .where(
            evidence_items.c.incident_seq == seq,
            evidence_items.c.idempotency_key.like(f"{run_id}:{index}:%"),
        )
        .order_by(evidence_items.c.n)
    ).mappings()
    return [_item(r) for r in rows]


def steps_in_flight(
    conn: Connection, seq: int, steps: Collection[tuple[str, int]]
) -> set[tuple[str, int]]:
    """Which of these (run id, step index) are steps of this incident's runs still pending
    or running (their evidence may be committed and not yet anchored)."""
    if not steps:
        return set()
    runs = {run for run, _ in steps}
    rows = conn.execute(
        select(playbook_run_steps.c.run_id, playbook_run_steps.c.idx)
        .join(playbook_runs, playbook_runs.c.id == playbook_run_steps.c.run_id)
        .where(
            playbook_runs.c.incident_seq == seq,
            playbook_run_steps.c.run_id.in_(runs),
            playbook_run_steps.c.status.in_(("pending", "running")),
        )
    )
    return {(str(r[0]), int(r[1])) for r in rows} & set(steps)


def insert_item(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(evidence_items).values(**values))


def delete_items(conn: Connection, seq: int) -> list[str]:
    """Delete an incident's items; return the hashes no other item still references."""
    hashes = {
        r[0]
        for r in conn.execute(
            select(evidence_items.c.sha256).where(evidence_items.c.incident_seq == seq)
        )
    }
    conn.execute(delete(evidence_items).where(evidence_items.c.incident_seq == seq))
    if not hashes:
        return []
    still = {
        r[0]
        for r in conn.execute(
            select(evidence_items.c.sha256).where(evidence_items.c.sha256.in_(hashes))
        )
    }
    return sorted(hashes - still)


def count_items(conn: Connection, seq: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(evidence_items)
            .where(evidence_items.c.incident_seq == seq)
        ).scalar_one()
    )


def alerts_for_incident(conn: Connection, seq: int) -> list[dict[str, Any]]:
    """Every stored alert of an incident, oldest first, with its raw payload."""
    rows = conn.execute(
        select(alerts).where(alerts.c.incident_seq == seq).order_by(alerts.c.id)
    ).mappings()
    return [_item(r) for r in rows]


def timeline_key_exists(conn: Connection, key: str) -> bool:
    """Whether a timeline event with this idempotency key was written (a delivery recorded)."""
    found = conn.execute(
        select(timeline_events.c.id).where(timeline_events.c.idempotency_key == key)
    ).first()
    return found is not None


def timeline_keys_among(conn: Connection, keys: Collection[str]) -> set[str]:
    """Which of `keys` a timeline event was written under (one indexed lookup)."""
    rows = conn.execute(
        select(timeline_events.c.idempotency_key).where(
            timeline_events.c.idempotency_key.in_(list(keys))
        )
    )
    return {r[0] for r in rows}


_PUT_BLOB = per_dialect(
    lambda ins: ins(evidence_blobs).on_conflict_do_nothing(index_elements=["sha256"])
)
_PUT_KEY = per_dialect(
    lambda ins: ins(evidence_keys).on_conflict_do_nothing(index_elements=["key_id"])
)
_NOTE_FAILURE = per_dialect(
    lambda ins: (stmt := ins(evidence_anchor_failures)).on_conflict_do_update(
        index_elements=["writer"],
        set_={"error": stmt.excluded.error, "failed_at": stmt.excluded.failed_at},
    )
)


def put_blob(conn: Connection, sha256: str, data: bytes, now: datetime) -> None:
    """Store bytes under their SHA-256 once (the same bytes twice are one row)."""
    conn.execute(
        pick(conn, _PUT_BLOB).values(sha256=sha256, size=len(data), data=data, created_at=now)
    )


def read_blob(conn: Connection, sha256: str) -> bytes | None:
    row = conn.execute(
        select(evidence_blobs.c.data).where(evidence_blobs.c.sha256 == sha256)
    ).first()
    return bytes(row[0]) if row is not None else None


def delete_blob(conn: Connection, sha256: str) -> None:
    conn.execute(delete(evidence_blobs).where(evidence_blobs.c.sha256 == sha256))


def insert_checkpoint(conn: Connection, seq: int, line: str, now: datetime) -> None:
    conn.execute(insert(evidence_checkpoints).values(incident_seq=seq, line=line, recorded_at=now))


def checkpoint_lines(conn: Connection, seq: int) -> list[tuple[int, str]]:
    """(row id, signed line) of an incident's checkpoints, oldest first."""
    rows = conn.execute(
        select(evidence_checkpoints.c.id, evidence_checkpoints.c.line)
        .where(evidence_checkpoints.c.incident_seq == seq)
        .order_by(evidence_checkpoints.c.id)
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def register_key(
    conn: Connection, key_id: str, algorithm: str, public_key: str, by: str, now: datetime
) -> None:
    """Record a verifying key (its public half) once."""
    conn.execute(
        pick(conn, _PUT_KEY).values(
            key_id=key_id,
            algorithm=algorithm,
            public_key=public_key,
            registered_at=now,
            registered_by=by,
        )
    )


def list_keys(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(evidence_keys).order_by(evidence_keys.c.registered_at)).mappings()
    return [dict(r) for r in rows]


def note_anchor_failure(conn: Connection, writer: str, error: str, now: datetime) -> None:
    """Remember (or update) that `writer`'s last checkpoint write failed."""
    conn.execute(pick(conn, _NOTE_FAILURE).values(writer=writer, error=error, failed_at=now))


def clear_anchor_failure(conn: Connection, writer: str) -> None:
    conn.execute(
        delete(evidence_anchor_failures).where(evidence_anchor_failures.c.writer == writer)
    )


def anchor_failures(conn: Connection) -> list[dict[str, Any]]:
    """Every writer whose last checkpoint write failed, oldest failure first."""
    rows = conn.execute(
        select(evidence_anchor_failures).order_by(evidence_anchor_failures.c.failed_at)
    ).mappings()
    return [dict(r) for r in rows]
