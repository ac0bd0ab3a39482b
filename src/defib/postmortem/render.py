"""Render a postmortem document as Markdown or HTML (Jinja2 templates shipped in the package)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

FORMATS = ("md", "html", "json", "aiid")


def duration(seconds: float | None) -> str:
    """`95.0` -> `1m 35s`; None -> `-` (pure)."""
    if seconds is None:
        return "-"
    total = round(seconds)
    if total < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{total}s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return " ".join(f"{v}{u}" for v, u in parts if v)


_MD_ESCAPES = str.maketrans({"<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]"})


def md_text(value: object) -> object:
    """Text people or alerts wrote, made inert in Markdown (pure).

    `<` and `>` become entities, so no raw HTML (`<img onerror=...>`, `<script>`) and no
    autolink (`<javascript:...>`) survives a Markdown viewer; `[` and `]` are escaped, so no
    inline or reference link (`[x](javascript:...)`) can form. Everything else, emphasis and
    lists included, renders as written.
    """
    return value.translate(_MD_ESCAPES) if isinstance(value, str) else value


@cache
def _env(fmt: str) -> Environment:
    env = Environment(
        loader=PackageLoader("defib.postmortem", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        # Markdown has no autoescape: every interpolated value goes through md_text.
        finalize=md_text if fmt == "md" else None,
    )
    env.filters["duration"] = duration
    return env


def render(doc: Mapping[str, Any], fmt: str) -> str:
    """`md` or `html`."""
    if fmt not in ("md", "html"):
        raise ValueError(f"format: {fmt!r} is not md or html")
    return _env(fmt).get_template(f"postmortem.{fmt}.j2").render(doc=doc)
