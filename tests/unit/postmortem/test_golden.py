"""Golden postmortems: a data leak and a hallucination, in JSON, Markdown, HTML and AIID.

Regenerate after a deliberate change with `UPDATE_GOLDEN=1 pytest tests/postmortem` and
read the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from defib.postmortem import aiid
from defib.postmortem.render import duration, render
from tests.support.postmortem import cases

GOLDEN = (Path(__file__).parents[2] / "postmortem/test_golden.py").parent / "golden"
CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "data_leak": cases.data_leak,
    "hallucination": cases.hallucination,
}


def _outputs(doc: dict[str, Any]) -> dict[str, str]:
    md = render(doc, "md")
    export = aiid.export(doc, md, organisation="Example Corp", url="https://defib.example/INC")
    return {
        "json": json.dumps(doc, indent=2, sort_keys=True) + "\n",
        "md": md,
        "html": render(doc, "html"),
        "aiid.json": json.dumps(export, indent=2, sort_keys=True) + "\n",
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_postmortem_matches_golden(name: str) -> None:
    """Every format of both postmortems is byte-for-byte the reviewed golden file."""
    for ext, text in _outputs(CASES[name]()).items():
        path = GOLDEN / f"{name}.{ext}"
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.write_text(text, encoding="utf-8")
        assert text == path.read_text(encoding="utf-8"), f"{path.name} differs"


def test_data_leak_postmortem_never_carries_the_leaked_people() -> None:
    """Impact is counts only: user ids and record references stay out of every format."""
    for text in _outputs(cases.data_leak()).values():
        assert "u-17" not in text
        assert "capture:1" not in text
        assert "12" in text


def test_data_leak_was_mitigated_by_the_playbook_and_hallucination_by_a_person() -> None:
    assert cases.data_leak()["mitigated_by"] == "playbook"
    assert cases.hallucination()["mitigated_by"] == "person"


def test_html_escapes_what_people_typed() -> None:
    doc = cases.hallucination()
    doc["review"]["lessons"] = ["<script>alert(1)</script>"]
    html = render(doc, "html")
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.25, "0.2s"),
        (9.96, "10.0s"),
        (42, "42s"),
        (95, "1m 35s"),
        (90061, "1d 1h 1m 1s"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text
