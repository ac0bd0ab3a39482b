"""The CLI against a server (both in this process): tables, --json, one-line errors with
exit 2, restarts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import InProcessServer, Run, run_cli


def test_declare_list_ack_and_timeline(run: Run) -> None:
    out = run(
        "incidents",
        "declare",
        "--title",
        "Leaked emails",
        "--type",
        "data_leak",
        "--severity",
        "SEV1",
        "--system",
        "chat-api",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    inc = json.loads(out.stdout)
    assert (inc["id"], inc["severity"]) == ("INC-1", "SEV1")
    listed = run("incidents", "list")
    assert "INC-1" in listed.stdout and "Leaked emails" in listed.stdout
    acked = run("incidents", "ack", "INC-1", "--note", "paging security")
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    tl = json.loads(run("timeline", "INC-1", "--json").stdout)
    events = [e for e in tl["items"] if not e["kind"].startswith(("run_", "step_"))]
    assert [e["kind"] for e in events] == ["created", "transition"]
    assert events[1]["data"]["note"] == "paging security"


def test_errors_are_one_line_on_stderr_with_exit_2(run: Run) -> None:
    missing = run("incidents", "show", "INC-404")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "no incident INC-404" in missing.stderr
    run("incidents", "declare", "--title", "t", "--type", "bias", "--severity", "SEV3")
    run("incidents", "close", "INC-1")
    illegal = run("incidents", "ack", "INC-1")
    assert illegal.returncode == 2
    assert "already closed" in illegal.stderr and illegal.stderr.count("\n") == 1
    usage = run("incidents", "declare", "--title", "t", "--type", "nonsense", "--severity", "SEV3")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1


def test_alert_send_from_file_and_stdin(run: Run, tmp_path: Path) -> None:
    alert = {
        "source": "guardrails",
        "type": "bias",
        "title": "Refusals differ by dialect",
        "systems": ["chat-api"],
        "severity": "warning",
        "dedup_key": "refusal-gap",
    }
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(alert))
    first = run("alert", "send", str(path), "--json")
    assert json.loads(first.stdout)["results"][0]["action"] == "created"
    second = run("alert", "send", "-", stdin=json.dumps(alert))
    assert second.returncode == 0 and second.stdout.startswith("merged: INC-1")
    bad = run("alert", "send", "-", stdin="{oops")
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr


def test_wrong_token_is_explained(server: InProcessServer) -> None:
    env = {"DEFIB_URL": server.url, "DEFIB_TOKEN": "defib_wrong"}
    out = run_cli("incidents", "list", cwd=server.workdir, env=env)
    assert out.returncode == 2
    assert "invalid or revoked token" in out.stderr and "DEFIB_TOKEN" in out.stderr


def test_tokens_create_list_revoke(run: Run) -> None:
    created = run("tokens", "create", "--name", "am", "--role", "ingest", "--json")
    token = json.loads(created.stdout)["token"]
    listed = json.loads(run("tokens", "list", "--json").stdout)
    assert {(t["name"], t["role"]) for t in listed} == {("admin", "admin"), ("am", "ingest")}
    assert token not in run("tokens", "list").stdout
    duplicate = run("tokens", "create", "--name", "am", "--role", "viewer")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    assert run("tokens", "revoke", "am").returncode == 0
    again = run("tokens", "revoke", "am")
    assert again.returncode == 2 and "no active token" in again.stderr


def test_restarted_server_keeps_incidents_and_timelines(run: Run, server: InProcessServer) -> None:
    run(
        "incidents",
        "declare",
        "--title",
        "Slow answers",
        "--type",
        "performance",
        "--severity",
        "SEV3",
    )
    run("incidents", "mitigate", "INC-1", "--note", "scaled out")
    before = json.loads(run("timeline", "INC-1", "--json").stdout)
    server.stop()
    server.start()
    after = json.loads(run("timeline", "INC-1", "--json").stdout)
    # Every event is kept; the playbook the declaration started may have added more since.
    assert after["items"][: len(before["items"])] == before["items"]
    assert json.loads(run("incidents", "show", "INC-1", "--json").stdout)["status"] == "mitigated"


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "defib.yaml"
    cfg.write_text("port: eighty\ncolour: red\n")
    out = run_cli("db", "upgrade", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert "port:" in out.stderr and "colour: unknown key" in out.stderr


def test_bad_rules_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: x\n    type: nonsense\n")
    cfg = tmp_path / "defib.yaml"
    cfg.write_text(f"rules_file: {rules}\n")
    out = run_cli("tokens", "list", "--local", "--config", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("defib: error: rules_file:")
    assert out.stderr.count("\n") == 1


def _wait_for_step(run: Run, incident: str, status: str) -> tuple[str, int]:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = json.loads(run("runs", "list", incident, "--json").stdout)
        for r in runs["items"]:
            detail = json.loads(run("runs", "show", r["id"], "--json").stdout)
            for s in detail["steps"]:
                if s["status"] == status:
                    return r["id"], s["index"]
        time.sleep(0.3)
    raise AssertionError(f"no step of {incident} reached {status}")


def test_approve_prints_the_step_as_decided_not_still_waiting(run: Run) -> None:
    declared = run(
        "incidents", "declare", "--title", "Slurs", "--type", "toxicity", "--severity", "SEV2"
    )
    assert declared.returncode == 0, declared.stderr
    run_id, index = _wait_for_step(run, "INC-1", "waiting_approval")
    out = run("runs", "approve", run_id, str(index), "--note", "reviewed")
    assert out.returncode == 0, out.stderr
    assert f"approved step {index}: taken" in out.stdout
    shown = json.loads(run("runs", "show", run_id, "--json").stdout)
    assert shown["steps"][index]["status"] != "waiting_approval"
    assert shown["steps"][index]["approval"]["note"] == "reviewed"
    # Every incident's runs, and the stuck ones (none: this run is moving).
    every = json.loads(run("runs", "list", "--json").stdout)
    assert [r["id"] for r in every["items"]] == [run_id]
    stuck = run("runs", "list", "--stuck")
    assert stuck.returncode == 0, stuck.stderr
    assert stuck.stdout.strip() == "no stuck runs"


def test_verify_without_evidence_says_so_and_exits_3(run: Run) -> None:
    # The toxicity playbook collects no evidence.
    run("incidents", "declare", "--title", "t", "--type", "toxicity", "--severity", "SEV3")
    out = run("evidence", "verify", "INC-1")
    assert out.returncode == 3
    assert out.stdout.strip() == "INC-1: no evidence collected yet; nothing to verify"


def test_timeline_text_fits_80_columns(run: Run) -> None:
    run("incidents", "declare", "--title", "A title " * 12, "--type", "bias", "--severity", "SEV3")
    run("incidents", "note", "INC-1", "word " * 60)
    out = run("timeline", "INC-1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "timeline of INC-1"
    assert all(len(line) <= 80 for line in lines), lines
    assert sum("word" in line for line in lines) >= 4  # the note wrapped over several lines


def test_verify_reports_a_deleted_tail_from_the_signed_checkpoints(
    run: Run, server: InProcessServer, database_url: str
) -> None:
    """Issue 11: deleting the last evidence item used to verify ('2 items verified', exit 0)."""
    from sqlalchemy import delete

    from defib.config import load_settings
    from defib.evidence import EvidenceService, ItemDraft
    from defib.store.database import Database
    from defib.store.tables import evidence_items

    # The toxicity playbook collects no evidence: the three items below are all there is.
    run("incidents", "declare", "--title", "t", "--type", "toxicity", "--severity", "SEV3")
    settings = load_settings(None, data_dir=server.workdir / ".defib", database_url=database_url)
    db = Database(settings.resolved_database_url)
    try:
        svc = EvidenceService.for_settings(db, settings)
        for i in (1, 2, 3):
            svc.add(1, [ItemDraft.json("record", f"item-{i}.json", {"i": i})], "tester")
        ok = run("evidence", "verify", "INC-1")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "matches 3 signed checkpoint(s)" in ok.stdout
        with db.write() as conn:
            conn.execute(delete(evidence_items).where(evidence_items.c.n == 3))
    finally:
        db.dispose()
    out = run("evidence", "verify", "INC-1")
    assert out.returncode == 1
    assert "BROKEN at item 3" in out.stdout and "were deleted" in out.stdout
