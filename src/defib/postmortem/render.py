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


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("defib.postmortem", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["duration"] = duration
    return env


def render(doc: Mapping[str, Any], fmt: str) -> str:
    """`md` or `html`."""
    if fmt not in ("md", "html"):
        raise ValueError(f"format: {fmt!r} is not md or html")
    return _env().get_template(f"postmortem.{fmt}.j2").render(doc=doc)
