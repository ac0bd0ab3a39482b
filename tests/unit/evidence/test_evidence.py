"""Evidence: collected by the engine, content-addressed, hash-chained, redacted, verified."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.evidence import EvidenceLocked, ItemDraft
from defib.model import Command
from defib.playbooks.runs import RunStatus
from defib.store import tokens as token_repo
from defib.store.tables import evidence_items
from tests.support.actions.blobs import flip_a_byte
from tests.support.engine import only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LEAKY = {
    "source": "guardrails",
    "type": "hallucination",
    "title": "Invented refund policy",
    "systems": ["chat-api"],
    "severity": "high",
    "dedup_key": "refunds",
    "samples": [
        {
            "prompt": "What is the refund policy? I am jane.doe@example.com",
            "response": "Refunds are 300% of the price.",
            "context": "Refunds: within 30 days, at most the price paid.",
            "user_id": "u-42",
        }
    ],
}


@pytest.fixture
def collected(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    tmp_path: Path,
    playbook_dir: Callable[[str], Path],
) -> tuple[Runtime, str]:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "chat-api.log").write_text("12:00 reply to jane.doe@example.com: Refunds are 300%\n")
    old = logs / "old.log"
    old.write_text("last year\n")
    past = time.time() - 30 * 86400
    os.utime(old, (past, past))
    playbook_dir(
        f"""
        name: hallucination
        applies_to: [hallucination]
        steps:
          - name: collect_evidence
            action: collect_evidence
            params: {{flavour: hallucination, paths: ["{logs}/*.log"]}}
        """
    )
    rt = make_runtime()
    start_worker(rt)
    (result,) = rt.intake.ingest(LEAKY, None, "tester")
    assert result.incident_id is not None
    run = wait_run(rt, only_run(rt, result.incident_id).id)
    assert run.status is RunStatus.SUCCEEDED, run
    return rt, result.incident_id


@pytest.fixture
def playbook_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    import textwrap

    directory = tmp_path / "playbooks"
    directory.mkdir()
    monkeypatch.setenv("DEFIB_PLAYBOOKS_DIR", str(directory))

    def write(text: str) -> Path:
        (directory / "p.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        return directory

    return write


def seq_of(incident_id: str) -> int:
    return int(incident_id.split("-")[1])


def test_collect_evidence_stores_records_samples_and_files_in_a_chain(
    collected: tuple[Runtime, str],
) -> None:
    """Incident, timeline, alert, samples and the in-window log are chained; the old log is not."""
    rt, inc = collected
    svc = rt.evidence
    items = svc.list(seq_of(inc))
    names = [i["name"] for i in items]
    assert names[:2] == ["incident.json", "timeline.json"]
    assert names[2].startswith("alerts/") and names[3] == "samples.json"
    assert names[4].endswith("/logs/chat-api.log") and len(names) == 5
    assert [i["n"] for i in items] == [1, 2, 3, 4, 5]
    assert items[0]["prev_hash"] is None
    assert all(b["prev_hash"] == a["chain_hash"] for a, b in itertools.pairwise(items))
    for item in items:
        assert svc.blobs.read(item["sha256"]) is not None
    report = svc.verify(seq_of(inc))
    assert report.ok and report.items == 5 and report.head == items[-1]["chain_hash"]
    samples = svc.show(seq_of(inc), 4, raw=True).content or ""
    assert "Refunds are 300%" in samples and "at most the price paid" in samples
    (event,) = [e for e in rt.incidents.timeline(inc) if e.kind == "run_step_evidence_collected"]
    assert event.data["head"] == report.head and event.data["new"] == 5
    assert event.data["skipped"][0]["reason"] == "last modified before the window"


def test_verify_names_the_item_whose_byte_was_flipped(collected: tuple[Runtime, str]) -> None:
    """Flipping one byte of one stored item: verify fails and names that item first."""
    rt, inc = collected
    svc = rt.evidence
    target = svc.list(seq_of(inc))[2]
    flip_a_byte(svc, target["sha256"])
    report = svc.verify(seq_of(inc))
    assert not report.ok
    first = report.first_broken
    assert first is not None and first.n == 3 and first.name == target["name"]
    assert "SHA-256 mismatch" in first.reason


def test_verify_catches_edited_metadata_and_a_removed_item(
    collected: tuple[Runtime, str],
) -> None:
    """Renaming an item breaks its link; deleting one breaks the chain after it."""
    rt, inc = collected
    svc = rt.evidence
    with rt.db.write() as conn:
        conn.execute(
            update(evidence_items)
            .where(evidence_items.c.incident_seq == seq_of(inc), evidence_items.c.n == 2)
            .values(name="nothing-to-see.json")
        )
    first = svc.verify(seq_of(inc)).first_broken
    assert first is not None and first.n == 2 and "metadata changed" in first.reason


def test_a_rerun_of_the_step_adds_nothing_twice(collected: tuple[Runtime, str]) -> None:
    """Items are keyed by step and name: adding the same drafts again is a no-op."""
    rt, inc = collected
    svc = rt.evidence
    before = svc.list(seq_of(inc))
    key = before[0]["idempotency_key"].rsplit(":", 1)[0]
    drafts = [ItemDraft.json("incident", "incident.json", {"changed": True})]
    _, new = svc.add(seq_of(inc), drafts, "run:x", key_prefix=key)
    assert new == 0 and svc.list(seq_of(inc)) == before


def test_evidence_of_an_open_incident_cannot_be_purged(collected: tuple[Runtime, str]) -> None:
    """Deletion is refused while the incident is open, allowed once it is closed."""
    rt, inc = collected
    svc = rt.evidence
    with pytest.raises(EvidenceLocked):
        svc.purge(seq_of(inc))
    assert len(svc.list(seq_of(inc))) == 5
    rt.incidents.apply(inc, Command.RESOLVE, "tester")
    rt.incidents.apply(inc, Command.CLOSE, "tester")
    digest = svc.list(seq_of(inc))[0]["sha256"]
    assert svc.purge(seq_of(inc)) == 5
    assert svc.list(seq_of(inc)) == [] and svc.blobs.read(digest) is None


def test_api_shows_redacted_content_and_raw_only_to_admins(
    collected: tuple[Runtime, str],
) -> None:
    """Viewers see PII masked; raw=true is 403 for them and the bytes for an admin."""
    rt, inc = collected
    tokens = {}
    with rt.db.write() as conn:
        for role in (Role.VIEWER, Role.ADMIN):
            tokens[role] = generate_token()
            token_repo.create_token(
                conn, name=role.value, role=role, token=tokens[role], created_by="t", now=utcnow()
            )
    viewer = {"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
    admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    with TestClient(create_app(rt)) as client:
        listing = client.get(f"/api/v1/incidents/{inc}/evidence", headers=viewer).json()
        assert [i["n"] for i in listing["items"]] == [1, 2, 3, 4, 5]
        shown = client.get(f"/api/v1/incidents/{inc}/evidence/4", headers=viewer).json()
        assert shown["redacted"] and shown["redactions"] == {"EMAIL": 1}
        assert "jane.doe@example.com" not in shown["content"] and "[EMAIL]" in shown["content"]
        denied = client.get(f"/api/v1/incidents/{inc}/evidence/4?raw=true", headers=viewer)
        assert denied.status_code == 403
        raw = client.get(f"/api/v1/incidents/{inc}/evidence/4?raw=true", headers=admin).json()
        assert not raw["redacted"] and "jane.doe@example.com" in raw["content"]
        assert client.get(f"/api/v1/incidents/{inc}/evidence/9", headers=viewer).status_code == 404
        ok = client.get(f"/api/v1/incidents/{inc}/evidence/verify", headers=viewer).json()
        assert ok["ok"] and ok["items"] == 5
