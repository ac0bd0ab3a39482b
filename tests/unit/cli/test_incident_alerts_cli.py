"""`defib incidents show` lists the alerts an incident holds, each with its own state
(issue 24: a resolve clears only its own alert, so which still fire must be in view);
both databases, against the in-process server."""

from __future__ import annotations

import json

from tests.support.cli import InProcessServer, Run


def pagerduty(action: str, key: str) -> str:
    event: dict[str, object] = {"routing_key": "R" * 32, "event_action": action, "dedup_key": key}
    if action == "trigger":
        event["payload"] = {
            "summary": f"replica {key} unreachable",
            "source": "db-replica",
            "severity": "critical",
            "component": "chat-api",
        }
    return json.dumps(event)


def test_show_lists_each_alert_with_its_own_state(run: Run) -> None:
    """Two PagerDuty keys folded into one incident; one resolved: the incident lists both,
    which fires and which is resolved, and since when."""
    for key in ("db-replica-101", "db-replica-202"):
        sent = run("alert", "send", "-", "--format", "pagerduty", stdin=pagerduty("trigger", key))
        assert sent.returncode == 0, sent.stderr
    resolved = run(
        "alert", "send", "-", "--format", "pagerduty", stdin=pagerduty("resolve", "db-replica-101")
    )
    assert resolved.returncode == 0, resolved.stderr
    out = run("incidents", "show", "INC-1")
    assert out.returncode == 0, out.stderr
    cells = [
        [c.strip() for c in line.replace("|", "│").split("│") if c.strip()]
        for line in out.stdout.splitlines()
    ]
    rows = {c[0]: c[1:] for c in cells if c and c[0].startswith("db-replica-")}
    assert set(rows) == {"db-replica-101", "db-replica-202"}, out.stdout
    assert rows["db-replica-101"][0] == "resolved"
    assert rows["db-replica-202"][0] == "firing"
    assert all(len(r) == 2 and r[1] for r in rows.values())  # since when, for each
    assert "alerts (1 of 2 firing)" in out.stdout
    assert "No alerts" not in out.stdout


def test_a_declared_incident_says_it_holds_no_alert(run: Run) -> None:
    run("incidents", "declare", "--title", "t", "--type", "bias", "--severity", "SEV3")
    out = run("incidents", "show", "INC-1")
    assert out.returncode == 0, out.stderr
    assert "No alerts: none feeds this incident" in out.stdout


def test_show_json_is_the_incident_as_the_api_returns_it(run: Run, server: InProcessServer) -> None:
    run("alert", "send", "-", "--format", "pagerduty", stdin=pagerduty("trigger", "k-1"))
    shown = json.loads(run("incidents", "show", "INC-1", "--json").stdout)
    assert shown["id"] == "INC-1" and "alerts" not in shown
    assert server.runtime is not None
    assert [s.key for s in server.runtime.incidents.alert_series("INC-1")] == ["k-1"]
