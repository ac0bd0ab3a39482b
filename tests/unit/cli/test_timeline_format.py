"""The timeline's text form reads like the console at 80 columns: one sentence per event,
no line too long, no word cut."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from defib.cli.timeline_format import format_events

RUN = "r1a2525c240f3f39cff3"
EVENTS = [
    {
        "at": "2026-11-28T10:31:52.100000Z",
        "actor": "gateway",
        "kind": "run_planned",
        "data": {"run_id": RUN, "playbook": "data_leak", "trigger": "auto"},
    },
    {
        "at": "2026-11-28T10:31:53.503577Z",
        "actor": f"run:{RUN}",
        "kind": "system_state_changed",
        "data": {
            "system": "support-bot",
            "change": "route",
            "to_version": "v1",
            "marked_bad": "v2",
            "active_version": "v1",
            "changed": True,
            "revision": 3,
        },
    },
    {
        "at": "2026-11-28T10:31:54Z",
        "actor": f"run:{RUN}",
        "kind": "run_step_finished",
        "data": {
            "step": "verify_endpoint",
            "status": "unverified",
            "reason": "nothing proves the failure gone: support-bot has no replayable captured"
            " samples and no probe that checks data_leak (probes[].types)",
            "idempotency_key": f"{RUN}:5",
        },
    },
]


def test_each_event_is_one_sentence_at_80_columns_with_words_whole() -> None:
    lines = format_events(EVENTS, 80)
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0] == "2026-11-28 (UTC)"
    assert lines[1] == "  10:31:52  gateway: Planned playbook data_leak"
    assert lines[2] == "  10:31:53  defib: Rolled support-bot back from v2 to v1"
    assert lines[3].startswith("  10:31:54  defib: ! verify_endpoint ended unverified:")
    # Continuations sit under the sentence; no idempotency key, run id or hash leaks in.
    assert all(line.startswith(" " * 12) for line in lines[4:])
    text = " ".join(lines)
    assert RUN not in text and "revision" not in text
    words = " ".join(line.strip() for line in lines).split()
    assert "(probes[].types)" in words and "replayable" in words


def test_a_new_day_gets_its_own_heading() -> None:
    later = {**EVENTS[1], "at": "2026-11-29T00:00:01Z"}
    lines = format_events([EVENTS[0], later], 80)
    assert [line for line in lines if "(UTC)" in line] == ["2026-11-28 (UTC)", "2026-11-29 (UTC)"]


@given(
    words=st.lists(st.text(alphabet="abcdefghij-_=", min_size=1, max_size=30), min_size=1),
    width=st.integers(min_value=40, max_value=200),
)
def test_no_line_is_longer_than_the_width(words: list[str], width: int) -> None:
    event = {
        "at": "2026-11-28T10:00:00Z",
        "actor": "a",
        "kind": "note",
        "data": {"text": " ".join(words)},
    }
    assert all(len(line) <= width for line in format_events([event], width))
