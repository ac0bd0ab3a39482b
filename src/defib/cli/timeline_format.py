"""Timeline events as text that reads at any width: one header line per event (time, actor,
kind), then its details wrapped at word boundaries and indented. Pure: no I/O."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from defib.timefmt import display

INDENT = "    "
MAX_DETAIL_CHARS = 2_000


def detail_text(data: Mapping[str, Any]) -> str:
    parts = []
    for key, value in data.items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        parts.append(f"{key}={text}")
    joined = " ".join(parts)
    return joined if len(joined) <= MAX_DETAIL_CHARS else joined[:MAX_DETAIL_CHARS] + " …"


def format_events(events: Iterable[Mapping[str, Any]], width: int) -> list[str]:
    """Lines no longer than `width` (at least 40), words never cut unless one alone is longer
    than a line (a hash, a URL), which is then broken where it must be."""
    width = max(width, 40)
    lines: list[str] = []
    for event in events:
        header = f"{display(event['at'])}  {event['actor']}  {event['kind']}"
        lines += textwrap.wrap(header, width, subsequent_indent=INDENT) or [header]
        details = detail_text(event.get("data") or {})
        if details:
            lines += textwrap.wrap(
                details,
                width,
                initial_indent=INDENT,
                subsequent_indent=INDENT,
                break_on_hyphens=False,
            )
    return lines
