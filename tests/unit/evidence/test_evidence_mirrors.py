"""Checkpoints copied to external append-only sinks (issue 25): a webhook receiver on
loopback and a file. A database writer who deletes an item together with its checkpoint row
is still caught by the copy; a sink that refuses a checkpoint fails the append."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete

from defib.bootstrap import Runtime
from defib.evidence import ItemDraft
from defib.evidence.anchor import AnchorError
from defib.integrations.signing import verify as verify_signature
from defib.model import IncidentType
from defib.store.tables import evidence_checkpoints, evidence_items
from tests.support.actions.peers import HttpPeer
from tests.support.engine import declare

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = "mirror-secret-for-tests-0123456789"


def _runtime(
    make_runtime: Callable[..., Runtime],
    peer: HttpPeer,
    mirror: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Runtime:
    monkeypatch.setenv("TEST_MIRROR_SECRET", SECRET)
    return make_runtime(
        evidence_anchor={
            "store": "database",
            "blob_store": "database",
            "mirrors": [
                {"url": f"{peer.url}/checkpoints", "secret_env": "TEST_MIRROR_SECRET"},
                {"path": str(mirror)},
            ],
        }
    )


def test_every_checkpoint_reaches_the_webhook_and_the_file_signed(
    make_runtime: Callable[..., Runtime],
    http_peer: HttpPeer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mirror = tmp_path / "mirror" / "checkpoints.jsonl"
    mirror.parent.mkdir()
    rt = _runtime(make_runtime, http_peer, mirror, monkeypatch)
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    for i in (1, 2):
        rt.evidence.add(seq, [ItemDraft.json("record", f"{i}.json", {"i": i})], "run:r1")
    received = http_peer.at("/checkpoints")
    assert len(received) == 2
    assert all(verify_signature(r.body, SECRET, r.headers) for r in received)
    assert [r.json()["items"] for r in received] == [1, 2]
    lines = [json.loads(x) for x in mirror.read_text().splitlines()]
    assert [line["sig"] for line in lines] == [r.json()["sig"] for r in received]


def test_deleting_an_item_and_its_checkpoint_row_is_caught_by_the_file_copy(
    make_runtime: Callable[..., Runtime],
    http_peer: HttpPeer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With checkpoints only in the database, a database writer could delete both."""
    rt = _runtime(make_runtime, http_peer, tmp_path / "checkpoints.jsonl", monkeypatch)
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    for i in (1, 2):
        rt.evidence.add(seq, [ItemDraft.json("record", f"{i}.json", {"i": i})], "run:r1")
    with rt.db.write() as conn:
        newest = max(r[0] for r in conn.execute(evidence_checkpoints.select()).all())
        conn.execute(delete(evidence_checkpoints).where(evidence_checkpoints.c.id == newest))
        conn.execute(
            delete(evidence_items).where(
                evidence_items.c.incident_seq == seq, evidence_items.c.n == 2
            )
        )
    first = rt.evidence.verify(seq).first_broken
    assert first is not None and first.n == 2 and "were deleted" in first.reason


def test_a_sink_that_refuses_fails_the_append_and_readiness(
    make_runtime: Callable[..., Runtime],
    http_peer: HttpPeer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = _runtime(make_runtime, http_peer, tmp_path / "checkpoints.jsonl", monkeypatch)
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    http_peer.default = 500
    with pytest.raises(AnchorError):
        rt.evidence.add(
            seq, [ItemDraft.json("record", "1.json", {"i": 1})], "run:r1", key_prefix="r1:0"
        )
    assert rt.evidence.anchor is not None and rt.evidence.anchor.problem() is not None
    assert not rt.evidence.verify(seq).ok  # committed, never vouched for
    # The step's retry (same key) anchors what the first try could not.
    http_peer.default = 200
    _, new = rt.evidence.add(
        seq, [ItemDraft.json("record", "1.json", {"i": 1})], "run:r1", key_prefix="r1:0"
    )
    assert new == 0 and rt.evidence.verify(seq).ok
    assert rt.evidence.anchor.problem() is None


def test_a_workers_failed_checkpoint_makes_every_replica_unready_until_it_writes_again(
    make_runtime: Callable[..., Runtime],
    http_peer: HttpPeer,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A standalone worker (its own data directory) whose sink refuses a checkpoint makes
    another replica's /readyz answer 503 naming the worker's host (the failure is a row in
    the shared database, not the worker's memory); the worker's next successful write makes
    the replica ready again."""
    from fastapi.testclient import TestClient

    from defib.api import create_app
    from defib.config import load_settings

    worker = _runtime(make_runtime, http_peer, tmp_path / "checkpoints.jsonl", monkeypatch)
    # Everything shared through the database, as PostgreSQL's default is (SQLite's is files).
    shared = {"store": "database", "blob_store": "database"}
    replica = Runtime(
        load_settings(
            None, data_dir=tmp_path / "replica", database_url=database_url, evidence_anchor=shared
        )
    )
    try:
        client = TestClient(create_app(replica), raise_server_exceptions=False)
        assert client.get("/readyz").status_code == 200
        seq = int(declare(worker, IncidentType.DATA_LEAK).split("-")[1])
        http_peer.default = 500
        with pytest.raises(AnchorError):
            worker.evidence.add(
                seq, [ItemDraft.json("record", "1.json", {"i": 1})], "run:r1", key_prefix="r1:0"
            )
        assert replica.evidence.anchor is not None and replica.evidence.anchor.last_error is None
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit()
        error = answer.json()["error"]
        assert error["code"] == "not_ready"
        assert worker.evidence.anchor is not None
        assert f"cannot be written on {worker.evidence.anchor.who}" in error["message"]
        assert "HTTP" in error["message"] or "500" in error["message"], error["message"]
        # The step's retry (same key) anchors what the first try could not.
        http_peer.default = 200
        worker.evidence.add(
            seq, [ItemDraft.json("record", "1.json", {"i": 1})], "run:r1", key_prefix="r1:0"
        )
        assert client.get("/readyz").status_code == 200
        assert replica.evidence.verify(seq).ok
    finally:
        replica.close()


def test_a_failure_row_an_earlier_process_left_goes_with_this_hosts_next_write(
    make_runtime: Callable[..., Runtime],
) -> None:
    """A worker killed after a failed checkpoint left its row; the process that replaces it
    on that host clears it with its first successful write (it remembers no failure)."""
    from defib.clock import utcnow
    from defib.store import evidence as evidence_repo

    rt = make_runtime(evidence_anchor={"store": "database"})
    anchor = rt.evidence.anchor
    assert anchor is not None
    with rt.db.write() as conn:
        evidence_repo.note_anchor_failure(conn, anchor.who, "OSError: No space left", utcnow())
    problem = anchor.problem()
    assert problem is not None and "No space left" in problem
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    rt.evidence.add(seq, [ItemDraft.json("record", "1.json", {"i": 1})], "run:r2")
    assert anchor.problem() is None and anchor.shared_failures() == []
