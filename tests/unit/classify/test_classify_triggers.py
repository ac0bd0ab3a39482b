"""The trigger prefilter: which rules it can narrow, and that narrowing never loses a match."""

from __future__ import annotations

import re

from defib.classify import RuleSet
from defib.classify.triggers import triggers_of


def test_words_in_any_script_are_triggers() -> None:
    """A pattern starting with a non-ASCII word (Portuguese, German) is still prefiltered."""
    assert triggers_of([re.compile(r"\bnão exist\w*|\bübersetz\w*")]) == ("não exist", "übersetz")


def test_upper_case_literals_are_never_triggers() -> None:
    """Triggers are looked for in lowercased text: an upper-case literal disables the prefilter."""
    assert triggers_of([re.compile(r"\bÜbersetz\w*")]) is None


def test_an_optional_leading_character_is_not_part_of_the_trigger() -> None:
    """`c?ddpl` may start with `d`, so no trigger can be taken from it."""
    assert triggers_of([re.compile(r"\b(c?ddpl)\b")]) is None
    assert triggers_of([re.compile(r"\b(cddpl|ddpl)\b")]) == ("cddpl", "ddpl")


def test_every_evidence_rule_of_the_default_set_with_a_text_matcher_is_prefiltered() -> None:
    """Rules on `text` run only where their words occur (classification cost per alert).

    `bias.comparison` is the known exception: its first pattern starts with a number."""
    unfiltered = [
        r.id
        for r in RuleSet.default().rules
        if not r.decisive
        and any(m.field == "text" and m.any for m in r.matchers)
        and r.triggers is None
    ]
    assert unfiltered == ["bias.comparison"], unfiltered
