"""Evidence anchored outside the database: whoever can write the database cannot delete
the tail or rewrite an item without `verify` saying so (issue 11)."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from defib.api import create_app
from defib.bootstrap import Runtime
from defib.evidence import EvidenceService, ItemDraft
from defib.evidence.anchor import Anchor, AnchorError, Checkpoint
from defib.evidence.chain import link_hash
from defib.evidence.checkpoints import FileCheckpointLog
from defib.evidence.signer import Ed25519Signer
from defib.model import IncidentType
from defib.store import evidence as evidence_repo
from defib.store.tables import evidence_items
from tests.support.engine import declare

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _three_items(rt: Runtime) -> tuple[EvidenceService, int]:
    """An incident with three items, appended one at a time (a checkpoint each)."""
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    # The environment the root read: where a `key_env` signing key is found.
    svc = EvidenceService.for_settings(rt.db, rt.settings, secrets=rt.secrets)
    for i in (1, 2, 3):
        svc.add(seq, [ItemDraft.json("record", f"item-{i}.json", {"i": i})], "tester")
    return svc, seq


def test_the_key_and_the_log_live_outside_the_database_and_verify_holds(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(evidence_anchor={"store": "file"})
    svc, seq = _three_items(rt)
    report = svc.verify(seq)
    assert report.ok, report.to_dict()
    assert report.to_dict()["anchor"]["checkpoints"] == 3
    assert report.to_dict()["anchor"]["anchored_items"] == 3
    key = rt.settings.data_dir / "evidence-anchor.key"
    log = rt.settings.data_dir / "evidence-checkpoints.jsonl"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    last = json.loads(log.read_text().splitlines()[-1])
    assert (last["incident"], last["items"]) == (seq, 3)
    assert last["head"] == report.head and last["sig"]


def test_deleting_the_tail_is_reported(make_runtime: Callable[..., Runtime]) -> None:
    """Before: deleting the last item still verified ('2 items verified', exit 0)."""
    rt = make_runtime()
    svc, seq = _three_items(rt)
    with rt.db.write() as conn:
        conn.execute(
            delete(evidence_items).where(
                evidence_items.c.incident_seq == seq, evidence_items.c.n == 3
            )
        )
    report = svc.verify(seq)
    assert report.chain.ok  # the chain alone cannot tell
    assert not report.ok
    first = report.first_broken
    assert first is not None and first.n == 3 and "were deleted" in first.reason


def test_rewriting_an_item_and_relinking_the_rest_is_reported(
    make_runtime: Callable[..., Runtime],
) -> None:
    """A new blob for item 2 and recomputed link hashes for items 2 and 3: the chain is
    consistent again, but not with what was signed."""
    rt = make_runtime()
    svc, seq = _three_items(rt)
    with rt.db.write() as conn:
        items = evidence_repo.list_items(conn, seq)
        prev = items[0]["chain_hash"]
        for item in items[1:]:
            values = dict(item)
            if item["n"] == 2:
                forged = b'{"i": "forged"}'
                values.update(sha256=svc.blobs.put(forged), size=len(forged))
            values["prev_hash"] = prev
            values["chain_hash"] = link_hash(values)
            conn.execute(
                update(evidence_items)
                .where(evidence_items.c.incident_seq == seq, evidence_items.c.n == item["n"])
                .values(
                    sha256=values["sha256"],
                    size=values["size"],
                    prev_hash=prev,
                    chain_hash=values["chain_hash"],
                )
            )
            prev = values["chain_hash"]
    report = svc.verify(seq)
    assert report.chain.ok  # the chain alone cannot tell
    first = report.first_broken
    assert first is not None and first.n == 2 and first.name == "item-2.json"
    assert "rewritten" in first.reason and "items up to 1 still match" in first.reason


def test_checkpoints_from_another_key_or_a_removed_log_do_not_count(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(evidence_anchor={"store": "file"})
    svc, seq = _three_items(rt)
    log = rt.settings.data_dir / "evidence-checkpoints.jsonl"
    # Someone without the key appends a checkpoint of their own.
    other = Anchor(Ed25519Signer(Ed25519PrivateKey.generate()), FileCheckpointLog(log))
    forged = other.sign(
        Checkpoint(seq, 2, "0" * 64, "2030-01-01T00:00:00+00:00", svc.anchor.key_id)
    )  # type: ignore[union-attr]
    with log.open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    report = svc.verify(seq)
    assert not report.ok
    assert any("does not verify" in b.reason for b in report.broken)
    log.unlink()
    gone = svc.verify(seq)
    assert not gone.ok and "not anchored" in gone.broken[0].reason


def test_the_key_can_come_from_the_environment_and_verify_runs_over_the_api(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("TEST_ANCHOR_KEY", base64.b64encode(key.private_bytes_raw()).decode())
    rt = make_runtime(evidence_anchor={"key_env": "TEST_ANCHOR_KEY"})
    _, seq = _three_items(rt)
    assert not (rt.settings.data_dir / "evidence-anchor.key").exists()
    with rt.db.write() as conn:
        conn.execute(
            delete(evidence_items).where(
                evidence_items.c.incident_seq == seq, evidence_items.c.n == 3
            )
        )
    with TestClient(create_app(rt, auth=False)) as client:
        body = client.get(f"/api/v1/incidents/INC-{seq}/evidence/verify").json()
    assert body["ok"] is False and body["items"] == 2
    assert "were deleted" in body["first_broken"]["reason"]
    assert body["anchor"]["anchored_items"] == 2


def test_the_key_env_is_looked_up_in_the_mapping_handed_down_not_the_process(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The evidence wiring reads no environment itself: the same settings sign with the
    key in the mapping the root hands it, and fail where only the process has it."""
    key = Ed25519PrivateKey.generate()
    encoded = base64.b64encode(key.private_bytes_raw()).decode()
    rt = make_runtime(evidence_anchor={"key_env": "HANDED_ANCHOR_KEY"})
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    handed = EvidenceService.for_settings(
        rt.db, rt.settings, secrets={"HANDED_ANCHOR_KEY": encoded}
    )
    handed.add(seq, [ItemDraft.json("record", "r.json", {"r": 1})], "tester")
    assert handed.verify(seq).ok
    monkeypatch.setenv("HANDED_ANCHOR_KEY", encoded)
    not_handed = EvidenceService.for_settings(rt.db, rt.settings, secrets={})
    with pytest.raises(AnchorError, match="HANDED_ANCHOR_KEY is not set"):
        not_handed.add(seq, [ItemDraft.json("record", "s.json", {"s": 1})], "tester")
