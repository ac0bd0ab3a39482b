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
from tests.actions.peers import HttpPeer
from tests.engine.conftest import declare

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
