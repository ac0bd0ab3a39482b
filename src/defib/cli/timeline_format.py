"""Timeline events as the console tells them, at any width (pure: no I/O).

Each event starts a line: its time of day (UTC), who did it and one sentence from
`defib.incidents.story` (the console's and the postmortem's words). A sentence longer than the line
wraps at words under the sentence's own column; a day heads the events of that day.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Any

from defib.incidents.story import Tone, tell

MIN_WIDTH = 40
# A line's mark by its tone, so a failure or a wait stands out without colour.
MARKS = {Tone.FAILED: "✗ ", Tone.WAITING: "! ", Tone.SKIPPED: "- "}


def format_events(events: Iterable[Mapping[str, Any]], width: int) -> list[str]:
    """Lines no longer than `width` (at least 40), words never cut unless one alone is longer
    than a line (a hash, a URL), which is then broken where it must be."""
    width = max(width, MIN_WIDTH)
    lines: list[str] = []
    day = ""
    for line in tell(events):
        at = line.at.astimezone(UTC)
        if at.strftime("%Y-%m-%d") != day:
            day = at.strftime("%Y-%m-%d")
            lines.append(f"{day} (UTC)")
        head = f"  {at:%H:%M:%S}  "
        # "defib" for every playbook run: the run is named where it is planned.
        actor = line.actor.split(" (")[0]
        text = f"{actor}: {MARKS.get(line.tone, '')}{line.text}"
        lines += textwrap.wrap(
            text,
            width,
            initial_indent=head,
            subsequent_indent=" " * len(head),
            break_on_hyphens=False,
        ) or [head.rstrip()]
    return lines
