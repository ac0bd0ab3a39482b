"""Markdown postmortems carry no raw HTML and no `javascript:` link from what people or
alerts wrote (issue 25)."""

from __future__ import annotations

import re

from defib.postmortem.render import md_text, render
from tests.support.postmortem import cases


def test_markdown_escapes_raw_html_and_links() -> None:
    """A title, a lesson and a summary holding HTML, an autolink and a Markdown link render
    as inert text."""
    doc = cases.hallucination()
    doc["incident"]["title"] = 'Bad <img src=x onerror="alert(1)">'
    doc["review"]["lessons"] = ["[click me](javascript:alert(1))", "<javascript:alert(2)>"]
    doc["summary"] = "<script>alert(3)</script> and [ref]: javascript:alert(4)"
    md = render(doc, "md")
    for raw in ("<img", "<script", "<javascript:", "[ref]:"):
        assert raw not in md, raw
    assert not re.search(r"(?<!\\)\]\(", md)  # no unescaped `](`: no inline link
    assert "&lt;img src=x" in md and "\\[click me\\]" in md


def test_markdown_text_keeps_what_is_harmless() -> None:
    """Emphasis, lists and code stay as written; only <, >, [ and ] are changed."""
    assert md_text("**bold**, `code`, - item, a & b") == "**bold**, `code`, - item, a & b"
    assert md_text(3) == 3
