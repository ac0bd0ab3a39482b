"""The CLI reads like the console: the timeline in sentences at 80 columns, empty states in
words, help without placeholders, and a wrong port that says which port is what."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from defib.cli import COMMANDS, app
from defib.cli.client import is_gateway_error
from tests.support.cli import Run


def test_timeline_tells_each_event_in_one_sentence_at_80_columns(run: Run) -> None:
    run(
        "incidents",
        "declare",
        "--title",
        "Made-up refund policy",
        "--type",
        "hallucination",
        "--severity",
        "SEV2",
        "--system",
        "support-bot",
    )
    run("incidents", "ack", "INC-1", "--note", "looking")
    run("incidents", "note", "INC-1", "customers in the EU only")
    out = run("timeline", "INC-1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    text = "\n".join(lines)
    assert "Opened as hallucination SEV2 on support-bot" in text
    assert "Acknowledged (detected → acknowledged): looking" in text
    assert "Note: customers in the EU only" in text
    # No raw JSON, hashes or idempotency keys: those are in --json.
    assert "{" not in text and "idempotency" not in text and "run_id" not in text
    raw = json.loads(run("timeline", "INC-1", "--json").stdout)
    assert [e["kind"] for e in raw["items"]][:1] == ["created"]


def test_empty_lists_say_so_in_words(run: Run) -> None:
    out = run("approvals")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Nothing waits for approval."
    assert run("incidents", "list").stdout.strip() == "No incidents match."
    assert run("silences", "list").stdout.strip() == "Nothing is silenced."


def test_a_gateway_error_is_told_from_an_api_error() -> None:
    gateway = {
        "error": {
            "message": "Unknown route.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    api = {"error": {"message": "no incident INC-9", "code": "not_found"}}
    assert is_gateway_error(gateway) and not is_gateway_error(api)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_names_values_plainly_and_keeps_each_command_line_whole(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "<str>" not in result.output
    assert "<int" not in result.output and "<path>" not in result.output
    # Click cuts a subcommand's help line at the terminal's width ("...").
    if "Commands:" in result.output:
        listed = result.output.split("Commands:")[-1].splitlines()
        assert not [line for line in listed if re.search(r"\w\.\.\.$", line)], listed
