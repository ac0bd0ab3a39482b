"""The systems: config (validated at start, errors name the key) and `defib systems`/`evidence`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from defib.config import ConfigError, load_settings
from defib.evidence import EvidenceService, ItemDraft
from defib.incidents.lifecycle import IncidentDraft
from defib.model import IncidentType, Severity
from defib.store import migrate
from defib.store.database import Database
from defib.testing import ServerProcess, defib_executable
from tests.support.actions.blobs import overwrite_blob

SYSTEMS = {
    "systems": [
        {
            "name": "chat-api",
            "tier": 1,
            "owners": {
                "team": "assistants",
                "slack_webhook": "https://hooks.slack.com/services/T0/B0/SECRETPATH",
                "emails": ["oncall@example.com"],
                "pagerduty_routing_key": "R0UT1NG",
            },
            "evidence_paths": ["/var/log/chat-api/*.log"],
        },
        {"name": "rag", "tier": 2},
    ],
    "notifications": {"smtp": {"host": "mail.internal", "port": 587, "starttls": True}},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"systems": [{"name": "a", "owners": {"emails": ["ok@x.org", "not-an-address"]}}]},
            "systems.0.owners.emails.1: Value error, not an email address: 'not-an-address'",
        ),
        ({"systems": [{"name": "a", "tier": 9}]}, "systems.0.tier: Input should be less"),
        ({"systems": [{"name": "a", "owner": {}}]}, "systems.0.owner: unknown key"),
        (
            {"systems": [{"name": "a"}, {"name": "a"}]},
            "systems: 'a' is named twice (systems.0.name and systems.1.name)",
        ),
        (
            {"systems": [{"name": "a", "owners": {"slack_webhook": "hooks.slack.com/x"}}]},
            "systems.0.owners.slack_webhook: Value error, must be an http(s) URL",
        ),
        (
            {"notifications": {"smtp": {"password_env": "not a name"}}},
            "notifications.smtp.password_env: Value error, must be the name of an environment",
        ),
        (
            {"notifications": {"pagerduty": {"events_url": "x"}}},
            "notifications.pagerduty.events_url",
        ),
    ],
)
def test_config_errors_name_the_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    """A bad systems:/notifications: value is refused at load, naming its key."""
    path = tmp_path / "defib.yaml"
    path.write_text(yaml.safe_dump(change))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert message in str(info.value)


def test_systems_list_and_show(tmp_path: Path) -> None:
    """`defib systems list|show` read the config; webhook URLs are masked."""
    path = tmp_path / "defib.yaml"
    path.write_text(yaml.safe_dump(SYSTEMS))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [defib_executable(), "systems", *args, "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert "chat-api" in listed.stdout and "slack, email, pagerduty" in listed.stdout
    shown = json.loads(run("show", "chat-api", "--json").stdout)
    assert shown["owners"]["slack_webhook"] == "https://hooks.slack.com/…"
    assert shown["evidence_paths"] == ["/var/log/chat-api/*.log"]
    assert "SECRETPATH" not in run("show", "chat-api").stdout
    missing = run("show", "nope")
    assert missing.returncode == 2 and "no system 'nope'" in missing.stderr


def test_evidence_cli_lists_shows_and_verify_fails_on_a_flipped_byte(
    database_url: str, tmp_path: Path
) -> None:
    """`defib evidence` over a real server: list, redacted show, verify exit 0 then 1."""
    data_dir = tmp_path / ".defib"
    settings = load_settings(None, data_dir=data_dir, database_url=database_url)
    db = Database(settings.resolved_database_url)
    migrate.upgrade(db)
    from defib.incidents.lifecycle import IncidentService

    inc = IncidentService(db).declare(
        IncidentDraft(
            type=IncidentType.DATA_LEAK,
            severity=Severity.SEV1,
            title="leak",
            affected_systems=("chat-api",),
        ),
        "tester",
    )
    # With the server's checkpoint anchor (same data dir): unanchored evidence fails verify.
    svc = EvidenceService.for_settings(db, settings)
    svc.add(
        inc.seq,
        [
            ItemDraft("file", "files/a.log", b"reply to jane@example.com\n", "text/plain"),
            ItemDraft("file", "files/b.log", b"second\n", "text/plain"),
        ],
        "tester",
    )
    db.dispose()
    srv = ServerProcess(
        tmp_path, env={"DEFIB_DATABASE_URL": database_url, "DEFIB_DATA_DIR": str(data_dir)}
    ).start()
    try:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [defib_executable(), "evidence", *args],
                cwd=srv.workdir,
                env=srv.client_env(),
                capture_output=True,
                text=True,
                timeout=60,
            )

        listed = run("list", inc.id)
        assert listed.returncode == 0, listed.stderr
        assert "files/a.log" in listed.stdout and "files/b.log" in listed.stdout
        shown = run("show", inc.id, "1")
        assert "[EMAIL]" in shown.stdout and "jane@example.com" not in shown.stdout
        assert run("verify", inc.id).returncode == 0
        overwrite_blob(svc, svc.list(inc.seq)[1]["sha256"], b"secOnd\n")
        broken = run("verify", inc.id)
        assert broken.returncode == 1
        assert "BROKEN at item 2 (files/b.log)" in broken.stdout
    finally:
        srv.stop()


def test_systems_state_commands_over_a_real_server(database_url: str, tmp_path: Path) -> None:
    """disable/enable/route/unfilter/versions/mark through `defib serve`; bad input exits 2."""
    config = {
        "systems": [{"name": "chat-api", "versions": [{"name": "v1"}, {"name": "v2"}]}],
        "gateway": {"embedded": False},
    }
    path = tmp_path / "defib.yaml"
    path.write_text(yaml.safe_dump(config))
    data_dir = tmp_path / ".defib"
    env = {
        "DEFIB_DATABASE_URL": database_url,
        "DEFIB_DATA_DIR": str(data_dir),
        "DEFIB_CONFIG": str(path),
    }
    srv = ServerProcess(tmp_path, env=env, args=("--no-worker",)).start()
    try:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [defib_executable(), "systems", *args],
                cwd=srv.workdir,
                env=srv.client_env(),
                capture_output=True,
                text=True,
                timeout=60,
            )

        first = run("state", "chat-api")
        assert first.returncode == 0, first.stderr
        assert "enabled" in first.stdout and "v2" in first.stdout
        off = run("disable", "chat-api", "--reason", "drill", "--json")
        assert off.returncode == 0, off.stderr
        assert json.loads(off.stdout)["state"]["disabled"] is True
        assert "DISABLED" in run("state", "chat-api").stdout
        assert json.loads(run("enable", "chat-api", "--json").stdout)["state"]["disabled"] is False
        routed = json.loads(run("route", "chat-api", "v1", "--json").stdout)
        assert routed["state"]["active_version"] == "v1"
        marked = run("mark", "chat-api", "v2", "bad", "-m", "hallucinates")
        assert marked.returncode == 0 and "v2: bad" in marked.stdout
        listed = json.loads(run("versions", "chat-api", "--json").stdout)
        assert [(v["name"], v["status"]) for v in listed] == [("v1", "unknown"), ("v2", "bad")]
        bad_version = run("route", "chat-api", "v9")
        assert bad_version.returncode == 2
        assert bad_version.stderr.count("\n") == 1 and "'v9' is not a version" in bad_version.stderr
        bad_mark = run("mark", "chat-api", "v1", "great")
        assert bad_mark.returncode == 2
        assert run("state", "nope").returncode == 2
    finally:
        srv.stop()
