"""Detector registry and the `defib detect` JSONL command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from defib.cli.detect import app
from defib.detectors import Detector, Finding, available_detectors, get_detector

runner = CliRunner()


def test_available_detectors_lists_core_names() -> None:
    """The registry exposes pii, toxicity and grounding."""
    assert {"pii", "toxicity", "grounding"} <= set(available_detectors())


@pytest.mark.parametrize("name", ["pii", "secrets", "toxicity", "grounding"])
def test_registered_detectors_satisfy_protocol(name: str) -> None:
    """Every registered detector is a `Detector` named after its registry key's family."""
    det = get_detector(name)
    assert isinstance(det, Detector)
    assert det.name == name
    assert isinstance(det.detect("hello", context=None), list)


def test_unknown_detector_is_a_clear_key_error() -> None:
    """An unknown name raises KeyError listing what is available."""
    with pytest.raises(KeyError, match=r"unknown detector 'nope'.*pii"):
        get_detector("nope")


def test_config_kwargs_reach_the_detector() -> None:
    """`get_detector(name, **config)` passes thresholds to the constructor."""
    det = get_detector("pii", types={"EMAIL"}, min_score=0.5)
    assert [f.type for f in det.detect("a@b.io 415-867-2301")] == ["EMAIL"]


def test_finding_is_immutable() -> None:
    """Findings are frozen values."""
    f = Finding("EMAIL", 0, 1, 1.0, "pii", "1")
    with pytest.raises(AttributeError):
        f.start = 3  # type: ignore[misc]


def _jsonl(*rows: object) -> str:
    return "".join(orjson.dumps(r).decode() + "\n" for r in rows)


def test_cli_pii_emits_one_line_per_input_in_order() -> None:
    """Each input line yields one output line with the same id, in order."""
    stdin = _jsonl(
        {"id": "a", "text": "mail a@b.io"},
        {"id": "b", "text": "nothing"},
        {"id": 3, "text": "SSN 123-45-6789"},
    )
    result = runner.invoke(app, ["pii"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(x) for x in result.stdout.splitlines()]
    assert lines == [
        {"id": "a", "findings": [{"type": "EMAIL", "start": 5, "end": 11, "text": "a@b.io"}]},
        {"id": "b", "findings": []},
        {"id": 3, "findings": [{"type": "US_SSN", "start": 4, "end": 15, "text": "123-45-6789"}]},
    ]


def test_cli_types_option_narrows() -> None:
    """`--types` limits the reported types."""
    stdin = _jsonl({"id": "a", "text": "mail a@b.io or call 415-867-2301"})
    result = runner.invoke(app, ["pii", "--types", "PHONE"], input=stdin)
    assert [f["type"] for f in orjson.loads(result.stdout)["findings"]] == ["PHONE"]


def test_cli_unknown_type_exits_2() -> None:
    """A misspelt type is a usage error."""
    result = runner.invoke(app, ["pii", "--types", "EMAILS"], input=_jsonl({"id": 1, "text": ""}))
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("{not json", "invalid JSON"),
        ('["a"]', "expected a JSON object"),
        ('{"id": "x"}', '"text" is missing'),
        ('{"id": "x", "text": 5}', '"text" is not a string'),
        ('{"text": "x"}', '"id" must be'),
    ],
)
def test_cli_bad_line_reports_line_number_and_exits_2(bad: str, problem: str) -> None:
    """A bad line stops the run with exit 2 and names the line; earlier lines were written."""
    stdin = _jsonl({"id": "ok", "text": "a@b.io"}) + bad + "\n" + _jsonl({"id": "z", "text": ""})
    result = runner.invoke(app, ["pii"], input=stdin)
    assert result.exit_code == 2
    assert result.stderr.startswith("defib: error: line 2: ")  # one prefix across the CLI
    assert problem in result.stderr
    assert [orjson.loads(x)["id"] for x in result.stdout.splitlines()] == ["ok"]


def test_cli_reads_file_argument(tmp_path: Path) -> None:
    """A FILE argument is read instead of stdin; blank lines are skipped."""
    src = tmp_path / "in.jsonl"
    src.write_text(_jsonl({"id": "f", "text": "ip 10.0.0.1"}) + "\n")
    result = runner.invoke(app, ["pii", str(src)])
    assert result.exit_code == 0
    assert orjson.loads(result.stdout)["findings"][0]["text"] == "10.0.0.1"


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    """An unreadable FILE is exit code 2."""
    result = runner.invoke(app, ["pii", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 2


def test_cli_toxicity_contract() -> None:
    """`toxicity` reports a boolean and labelled findings."""
    result = runner.invoke(app, ["toxicity"], input=_jsonl({"id": "t", "text": "you idiot"}))
    row = orjson.loads(result.stdout)
    assert row["toxic"] is True
    assert row["findings"][0]["text"] == "idiot"


def test_cli_grounding_contract() -> None:
    """`grounding` reads response and context and reports a support score."""
    stdin = _jsonl(
        {
            "id": "g",
            "response": "The refund window is 45 days.",
            "context": "Our refund window is 30 days.",
        }
    )
    result = runner.invoke(app, ["grounding"], input=stdin)
    row = orjson.loads(result.stdout)
    assert row["findings"][0]["type"] == "CONTRADICTION"
    assert 0.0 <= row["support"] < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("module", ["defib.cli.detect", "defib.detectors"])
def test_module_entry_point_runs_as_a_process(module: str) -> None:
    """`python -m defib.cli.detect pii` and `python -m defib.detectors pii` both work
    without the top-level CLI wiring."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "pii"],
        input=_jsonl({"id": "p", "text": "call +44 20 7946 1234"}).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert orjson.loads(proc.stdout)["findings"][0]["type"] == "PHONE"


def test_argparse_entry_point_matches_contract(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """`python -m defib.detectors` writes the same JSONL and exits 2 naming a bad line."""
    from defib.detectors.__main__ import main

    src = tmp_path / "in.jsonl"
    src.write_text(_jsonl({"id": "a", "text": "mail a@b.io"}) + "oops\n")
    assert main(["pii", str(src)]) == 2
    out, err = capsysbinary.readouterr()
    assert orjson.loads(out.splitlines()[0])["findings"][0]["type"] == "EMAIL"
    assert b"line 2" in err
    assert main(["pii", "--types", "NOPE", str(src)]) == 2
