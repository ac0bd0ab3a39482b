"""State every replica must share lives in the database (issue 25): evidence bytes,
checkpoints and verifying keys, the console's session secret, storm budgets.

Two Runtimes with separate data directories on one database stand for two machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from defib.bootstrap import Runtime
from defib.config import load_settings
from defib.evidence import ItemDraft
from defib.evidence.signer import encode_public
from defib.intake.storm import StormGuard
from defib.model import IncidentType
from defib.store.storm import DatabaseStormBudget
from defib.web.secret import session_secret
from tests.support.engine import declare

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def two_machines(database_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    made = [
        Runtime(load_settings(None, data_dir=tmp_path / name, database_url=database_url))
        for name in ("machine-a", "machine-b")
    ]
    yield made[0], made[1]
    for rt in made:
        rt.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_evidence_one_machine_collected_verifies_on_another(
    two_machines: tuple[Runtime, Runtime],
) -> None:
    """Before: 'content is missing' for every item, and each process had its own key."""
    a, b = two_machines
    seq = int(declare(a, IncidentType.DATA_LEAK).split("-")[1])
    a.evidence.add(seq, [ItemDraft.json("record", "r.json", {"r": 1})], "run:r1")
    report = b.evidence.verify(seq)
    assert report.ok, report.to_dict()
    assert report.to_dict()["anchor"]["anchored_items"] == 1
    assert b.evidence.show(seq, 1, raw=True).content is not None
    assert not list((a.settings.data_dir / "evidence").glob("sha256/*/*"))  # not on a disk


def test_a_key_registered_by_another_machine_is_not_trusted_once_keys_are_pinned(
    database_url: str, tmp_path: Path
) -> None:
    """With evidence_anchor.trusted_keys, a key someone registered in the database (to re-sign
    checkpoints) does not count; without pins, the database's keys do."""
    shared = {"store": "database", "blob_store": "database"}
    a = Runtime(load_settings(None, data_dir=tmp_path / "a", database_url=database_url,
                              evidence_anchor=shared))  # fmt: skip
    try:
        seq = int(declare(a, IncidentType.DATA_LEAK).split("-")[1])
        a.evidence.add(seq, [ItemDraft.json("record", "r.json", {"r": 1})], "run:r1")
        assert a.evidence.anchor is not None
        own = encode_public(a.evidence.anchor.signer.public_key)
    finally:
        a.close()
    # Another machine with its own key and no pins trusts a's key from the database.
    b = Runtime(load_settings(None, data_dir=tmp_path / "b", database_url=database_url,
                              evidence_anchor=shared))  # fmt: skip
    try:
        assert b.evidence.verify(seq).ok
    finally:
        b.close()
    # Pinned to another key only: a's checkpoints (registered in the database) do not count.
    other = encode_public(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    c = Runtime(
        load_settings(None, data_dir=tmp_path / "c", database_url=database_url,
                      evidence_anchor={**shared, "trusted_keys": [other]})
    )  # fmt: skip
    try:
        report = c.evidence.verify(seq)
        assert not report.ok and "does not verify with a trusted key" in report.broken[0].reason
    finally:
        c.close()
    d = Runtime(
        load_settings(None, data_dir=tmp_path / "d", database_url=database_url,
                      evidence_anchor={**shared, "trusted_keys": [own]})
    )  # fmt: skip
    try:
        assert d.evidence.verify(seq).to_dict()["anchor"]["trust"] == "pinned"
        assert d.evidence.verify(seq).ok
    finally:
        d.close()


def test_the_console_session_secret_is_one_for_every_replica(
    two_machines: tuple[Runtime, Runtime],
) -> None:
    """Before: each data directory had its own session-secret; a session from one replica
    was refused by the other."""
    a, b = two_machines
    assert session_secret(a.settings, a.db) == session_secret(b.settings, b.db)
    assert not a.settings.session_secret_path.exists()


def test_a_shared_storm_budget_is_one_limit_across_replicas(
    two_machines: tuple[Runtime, Runtime],
) -> None:
    """Two guards on one database: the per-sender limit holds across both, per sender."""
    a, b = two_machines
    limits = a.settings.storm.model_copy(update={"max_new_incidents_per_source_per_minute": 3})
    guards = [StormGuard(limits, shared=DatabaseStormBudget(rt.db)) for rt in (a, b)]
    taken = [guards[i % 2].may_open("alertmanager", 0, 0.0) for i in range(8)]
    assert taken.count(True) == 3
    assert guards[1].may_open("grafana", 0, 0.0)
    runs = StormGuard(
        limits.model_copy(update={"playbook_runs_per_system_per_minute": 2}),
        shared=DatabaseStormBudget(b.db),
    )
    assert [runs.may_run(["chat-api", "search"], 0.0) for _ in range(3)] == [True, True, False]
    assert runs.may_run(["other"], 0.0)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_unpinned_keys_on_a_shared_database_are_warned_about_at_start(
    database_url: str, tmp_path: Path
) -> None:
    """Database-registered keys are trusted unless pinned: said at start and on /readyz."""
    rt = Runtime(load_settings(None, data_dir=tmp_path / "a", database_url=database_url))
    try:
        assert any("trusted_keys" in w for w in rt.security_warnings)
        assert rt.evidence.anchor is not None
        own = encode_public(rt.evidence.anchor.signer.public_key)
    finally:
        rt.close()
    pinned = Runtime(
        load_settings(
            None,
            data_dir=tmp_path / "a",
            database_url=database_url,
            evidence_anchor={"trusted_keys": [own]},
        )
    )
    try:
        assert not any("trusted_keys" in w for w in pinned.security_warnings)
    finally:
        pinned.close()
