"""The timeline's text form reads at 80 columns: no line too long, no word cut."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from defib.cli.timeline_format import format_events

EVENT = {
    "at": "2026-11-28T10:31:53.503577Z",
    "actor": "playbook:data_leak",
    "kind": "step_succeeded",
    "data": {
        "step": "disable_endpoint",
        "output": {"system": "support-bot", "previous_state": "enabled", "reason": "PII in output"},
        "note": "the endpoint answers 503 system_disabled until someone re-enables it",
    },
}


def test_every_line_fits_80_columns_and_words_stay_whole() -> None:
    lines = format_events([EVENT], 80)
    assert all(len(line) <= 80 for line in lines)
    words = " ".join(line.strip() for line in lines).split()
    for word in ("system_disabled", "re-enables", "step=disable_endpoint", "step_succeeded"):
        assert word in words
    # Read to the second, in the one format (timefmt.display).
    assert lines[0].startswith("2026-11-28T10:31:53Z  playbook:data_leak")
    assert all(line.startswith("    ") for line in lines[1:])


@given(
    words=st.lists(st.text(alphabet="abcdefghij-_=", min_size=1, max_size=30), min_size=1),
    width=st.integers(min_value=40, max_value=200),
)
def test_no_line_is_longer_than_the_width(words: list[str], width: int) -> None:
    event = {"at": "t", "actor": "a", "kind": "k", "data": {"text": " ".join(words)}}
    assert all(len(line) <= width for line in format_events([event], width))
