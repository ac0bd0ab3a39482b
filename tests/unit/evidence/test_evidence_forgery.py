"""Evidence under an insider (issue 25): forgeries appended after the newest checkpoint,
fields outside the link hash, torn checkpoint lines and checkpoints that cannot be written.

Each test is an attack or failure that passed unnoticed before: the forged item verified
("1 newer item(s) not yet anchored", exit 0, "Chain intact"), `collected_by` and
`media_type` could be changed freely, one torn line failed every incident's verify, and a
step whose checkpoint could not be written still succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from typer.testing import CliRunner

from defib.api import create_app
from defib.auth import Role
from defib.bootstrap import Runtime
from defib.cli import evidence as evidence_cli
from defib.cli.client import ApiClient
from defib.evidence import ItemDraft
from defib.evidence.chain import LINK_VERSION, link_hash, link_hash_v1
from defib.model import Command, IncidentType
from defib.playbooks.runs import RunStatus
from defib.store import evidence as evidence_repo
from defib.store.tables import evidence_items
from tests.support.engine import declare, only_run, wait_run
from tests.support.web import csrf_of, make_tokens

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _incident_with_two_items(rt: Runtime) -> int:
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    rt.evidence.add(
        seq,
        [ItemDraft.json("record", n, {"n": n}) for n in ("a.json", "b.json")],
        "run:r1",
    )
    return seq


def _forge_item(rt: Runtime, seq: int, data: bytes, **fields: Any) -> None:
    """What someone with database access (and no signing key) can do: store bytes and a row
    that chains correctly onto the head, by the current link rule."""
    digest = rt.evidence.blobs.put(data)
    with rt.db.write() as conn:
        last = evidence_repo.last_item(conn, seq)
        assert last is not None
        values: dict[str, Any] = {
            "link_version": LINK_VERSION,
            "incident_seq": seq,
            "n": int(last["n"]) + 1,
            "kind": "record",
            "name": "forged.json",
            "media_type": "application/json",
            "size": len(data),
            "sha256": digest,
            "prev_hash": last["chain_hash"],
            "collected_at": datetime.now(UTC).replace(microsecond=0),
            "collected_by": "run:r1",
            "meta": {},
            "idempotency_key": None,
            **fields,
        }
        values["chain_hash"] = link_hash(values)
        evidence_repo.insert_item(conn, values)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Runtime, str], tuple[int, str]]]:
    """`defib evidence verify` through Typer's runner, talking to the runtime's app."""
    clients: list[TestClient] = []

    def run(rt: Runtime, incident_id: str) -> tuple[int, str]:
        client = TestClient(create_app(rt, auth=False))
        clients.append(client)

        def in_process(_config: object) -> ApiClient:
            # The CLI's own client, its HTTP calls going to the app in-process.
            api = ApiClient(rt.settings)
            api._client = client
            return api

        monkeypatch.setattr(evidence_cli, "_client", in_process)
        result = CliRunner().invoke(evidence_cli.app, ["verify", incident_id])
        return result.exit_code, result.output

    yield run
    for c in clients:
        c.close()


def _console_verify(rt: Runtime, incident_id: str) -> str:
    tokens = make_tokens(rt)
    with TestClient(create_app(rt), follow_redirects=False) as client:
        form = client.get("/login")
        signed = client.post(
            "/login", data={"token": tokens[Role.VIEWER], "csrf": csrf_of(form.text), "next": "/"}
        )
        assert signed.status_code == 303, signed.text
        return client.get(f"/incidents/{incident_id}/verify").text


def test_an_item_forged_after_the_newest_checkpoint_fails_verify_everywhere(
    make_runtime: Callable[..., Runtime], cli: Callable[[Runtime, str], tuple[int, str]]
) -> None:
    """Before: '1 newer item(s) not yet anchored', exit 0, the console said 'Chain intact'."""
    rt = make_runtime()
    seq = _incident_with_two_items(rt)
    assert rt.evidence.verify(seq).ok
    _forge_item(rt, seq, b'{"the": "forgery"}')
    report = rt.evidence.verify(seq)
    assert report.chain.ok  # the chain alone cannot tell
    assert not report.ok
    first = report.first_broken
    assert first is not None and first.n == 3 and "not anchored" in first.reason
    code, output = cli(rt, f"INC-{seq}")
    assert code == 1 and "BROKEN at item 3 (forged.json)" in output
    page = _console_verify(rt, f"INC-{seq}")
    assert "Chain intact" not in page and "Chain broken at item 3" in page


def test_a_legitimate_append_after_a_forgery_does_not_vouch_for_it(
    make_runtime: Callable[..., Runtime],
) -> None:
    """A checkpoint vouches only for what its writer appended: the forged item stays unvouched
    even once a later checkpoint's head covers it."""
    rt = make_runtime()
    seq = _incident_with_two_items(rt)
    _forge_item(rt, seq, b'{"the": "forgery"}')
    rt.evidence.add(seq, [ItemDraft.json("record", "c.json", {"c": 3})], "run:r2")
    report = rt.evidence.verify(seq)
    assert [(b.n, "not anchored" in b.reason) for b in report.broken] == [(3, True)]


@pytest.mark.parametrize(
    "change",
    [{"collected_by": "someone-else"}, {"media_type": "text/html"}, {"idempotency_key": "x:1:y"}],
)
def test_changing_any_stored_field_breaks_the_link(
    make_runtime: Callable[..., Runtime], change: dict[str, str]
) -> None:
    """collected_by, media_type and the step key are in the link hash (they were not)."""
    rt = make_runtime()
    seq = _incident_with_two_items(rt)
    with rt.db.write() as conn:
        conn.execute(
            update(evidence_items)
            .where(evidence_items.c.incident_seq == seq, evidence_items.c.n == 1)
            .values(**change)
        )
    first = rt.evidence.verify(seq).first_broken
    assert first is not None and first.n == 1 and "link hash mismatch" in first.reason


def test_items_linked_by_the_old_rule_still_verify_and_a_downgrade_is_reported(
    make_runtime: Callable[..., Runtime],
) -> None:
    """A v1 item (written before) verifies by the v1 rule; claiming v1 after a v2 item fails."""
    rt = make_runtime()
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    data = b'{"old": true}'
    at = datetime(2026, 11, 1, tzinfo=UTC)
    old = {
        "incident_seq": seq,
        "n": 1,
        "kind": "record",
        "name": "old.json",
        "media_type": "application/json",
        "size": len(data),
        "sha256": rt.evidence.blobs.put(data),
        "prev_hash": None,
        "collected_at": at,
        "collected_by": "run:old",
        "meta": {},
        "idempotency_key": None,
        "link_version": 1,
    }
    old["chain_hash"] = link_hash_v1(
        prev=None, incident_seq=seq, n=1, kind="record", name="old.json",
        sha256=old["sha256"], size=len(data), collected_at=at, meta={},
    )  # fmt: skip
    with rt.db.write() as conn:
        evidence_repo.insert_item(conn, old)
    assert rt.evidence.anchor is not None
    rt.evidence.anchor.record(seq, 1, old["chain_hash"])  # its checkpoint, as written then
    rt.evidence.add(seq, [ItemDraft.json("record", "new.json", {"new": True})], "run:r1")
    rt.evidence.add(seq, [ItemDraft.json("record", "newer.json", {"new": 2})], "run:r1")
    report = rt.evidence.verify(seq)
    assert report.ok, report.to_dict()
    # Rewriting item 3 by the weaker rule, to change collected_by unnoticed: its v1 link
    # hash recomputed, so only the version rule and the signed checkpoint can tell.
    with rt.db.write() as conn:
        item = evidence_repo.get_item(conn, seq, 3)
        assert item is not None and item["link_version"] == LINK_VERSION
        downgraded = link_hash_v1(
            prev=item["prev_hash"], incident_seq=seq, n=3, kind=item["kind"],
            name=item["name"], sha256=item["sha256"], size=item["size"],
            collected_at=item["collected_at"], meta=item["meta"],
        )  # fmt: skip
        conn.execute(
            update(evidence_items)
            .where(evidence_items.c.incident_seq == seq, evidence_items.c.n == 3)
            .values(link_version=1, collected_by="someone-else", chain_hash=downgraded)
        )
    reasons = [b.reason for b in rt.evidence.verify(seq).broken if b.n == 3]
    assert any("link format v1 after a v2 item" in r for r in reasons), reasons
    assert any("rewritten" in r for r in reasons), reasons


def test_a_torn_checkpoint_line_affects_no_other_incident(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Before: one unparsable line made every incident's verify fail. Now it is skipped with
    a warning for its own incident only, and the next append starts a fresh line."""
    rt = make_runtime(evidence_anchor={"store": "file"})
    torn_seq = _incident_with_two_items(rt)
    other = _incident_with_two_items(rt)
    log = rt.settings.data_dir / "evidence-checkpoints.jsonl"
    whole = log.read_bytes().splitlines()[-1]
    assert json.loads(whole)["incident"] == other
    # A crash mid-write of a checkpoint of `torn_seq`: half a line, no newline.
    assert rt.evidence.anchor is not None
    line = json.dumps(rt.evidence.anchor.sign(_checkpoint(torn_seq))).encode()
    with log.open("ab") as fh:
        fh.write(line[: len(line) // 2 + 10])
    assert rt.evidence.verify(other).ok
    assert rt.evidence.verify(other).to_dict()["anchor"]["warnings"] == []
    torn = rt.evidence.verify(torn_seq)
    assert torn.ok and "torn" in torn.to_dict()["anchor"]["warnings"][0]
    # The next checkpoint is a line of its own and verifies.
    rt.evidence.add(other, [ItemDraft.json("record", "c.json", {"c": 3})], "run:r2")
    after = rt.evidence.verify(other)
    assert after.ok and after.to_dict()["anchor"]["anchored_items"] == 3


def _checkpoint(seq: int) -> Any:
    from defib.evidence.anchor import Checkpoint

    return Checkpoint(seq, 2, "f" * 64, datetime.now(UTC).isoformat(), "k" * 16)


def test_a_checkpoint_that_cannot_be_written_fails_the_step_and_readiness(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """Before: the step succeeded with its items unanchored. Now the step fails, verify
    reports its items, and /readyz is not ready until a checkpoint is written again."""
    playbook_dir(
        """
        name: generic
        applies_to: [toxicity]
        steps:
          - name: collect_evidence
            action: collect_evidence
        """
    )
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log's directory should be\n")
    rt = make_runtime(
        evidence_anchor={"store": "file", "log_file": str(blocker / "checkpoints.jsonl")}
    )
    start_worker(rt)
    incident = declare(rt, IncidentType.TOXICITY)
    run = wait_run(rt, only_run(rt, incident).id)
    (step,) = run.steps
    assert step.status is RunStatus.FAILED, run
    assert "checkpoint" in (step.error or "")
    report = rt.evidence.verify(int(incident.split("-")[1]))
    assert report.items > 0 and not report.ok
    assert all("not anchored" in b.reason for b in report.broken)
    with TestClient(create_app(rt, auth=False)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "checkpoints cannot be written" in ready.json()["error"]["message"]
    assert str(tmp_path) not in ready.text  # no paths to unauthenticated callers


def test_after_every_item_is_deleted_verify_says_deleted_not_nothing_collected(
    make_runtime: Callable[..., Runtime], cli: Callable[[Runtime, str], tuple[int, str]]
) -> None:
    """Before: 'no evidence collected yet'. Rows deleted behind defib's back are a broken
    chain (exit 1); a retention purge is said to be one (exit 3, nothing to verify)."""
    rt = make_runtime()
    seq = _incident_with_two_items(rt)
    with rt.db.write() as conn:
        conn.execute(delete(evidence_items).where(evidence_items.c.incident_seq == seq))
    code, output = cli(rt, f"INC-{seq}")
    assert code == 1 and "were deleted" in output and "no evidence" not in output
    purged = _incident_with_two_items(rt)
    rt.incidents.apply(f"INC-{purged}", Command.RESOLVE, "tester")
    rt.incidents.apply(f"INC-{purged}", Command.CLOSE, "tester")
    assert rt.evidence.purge(purged) == 2
    code, output = cli(rt, f"INC-{purged}")
    assert code == 3 and "evidence deleted" in output
    assert "Evidence deleted" in _console_verify(rt, f"INC-{purged}")
