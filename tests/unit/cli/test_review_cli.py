"""`defib review`, `defib postmortem` and `defib report` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Run

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ALERT = {
    "source": "guardrails",
    "type": "data_leak",
    "title": "support-bot leaks emails after a jailbreak",
    "systems": ["support-bot"],
    "severity": "critical",
}


def test_review_postmortem_and_report(run: Run, tmp_path: Path) -> None:
    sent = run("alert", "send", "-", stdin=json.dumps(ALERT))
    assert sent.returncode == 0, sent.stderr
    edit = run(
        "review", "INC-1",
        "--summary", "Leak contained by the playbook.",
        "--lesson", "Probe for PII before release",
        "--action", "Redact training data @ml-platform",
        "--nist", "data_privacy", "--nist", "information_security",
    )  # fmt: skip
    assert edit.returncode == 0, edit.stderr
    assert "LLM01 Prompt Injection" in edit.stdout  # the jailbreak refined the mapping
    assert "(ml-platform)" in edit.stdout
    shown = json.loads(run("review", "INC-1", "--json").stdout)
    assert [e["id"] for e in shown["taxonomy"]["nist_ai_600_1"]] == [
        "data_privacy",
        "information_security",
    ]
    out = tmp_path / "pm.md"
    pm = run("postmortem", "INC-1", "--output", str(out))
    assert pm.returncode == 0, pm.stderr
    text = out.read_text()
    assert text.startswith("# Postmortem: INC-1 support-bot leaks emails")
    assert "- Probe for PII before release" in text
    aiid = json.loads(run("postmortem", "INC-1", "--format", "aiid").stdout)
    assert "NIST:data_privacy Data Privacy" in aiid["tags"]
    bad = run("postmortem", "INC-1", "--format", "pdf")
    assert bad.returncode == 2
    report = json.loads(run("report", "--since", "1d", "--json").stdout)
    assert report["overall"]["incidents"] == 1
    table = run("report")
    assert table.returncode == 0, table.stderr
    assert "data_leak" in table.stdout
