"""Compiled rules: a `Matcher` tests one field of an alert, a `Rule` ands its matchers."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from defib.classify.text import AlertView
from defib.model import IncidentType

FIELDS = frozenset(
    {
        "text",
        "headline",
        "body",
        "title",
        "alertname",
        "description",
        "signal",
        "source",
        "severity",
        "format",
    }
)


@dataclass(frozen=True)
class Matcher:
    """Regex conditions over one field: any (one of), all (each of), none (not one of).

    `triggers` are the literal words the `any` branches start with (None when some branch
    does not start with one); the rule set uses them to skip rules whose words are absent.
    """

    field: str
    any: re.Pattern[str] | None = None
    all: tuple[re.Pattern[str], ...] = ()
    none: re.Pattern[str] | None = None
    triggers: tuple[str, ...] | None = None

    def test(
        self, view: AlertView, positions: Sequence[int] | None = None
    ) -> tuple[bool, str, bool]:
        """(passes, matched term, matched in headline) for this alert.

        `positions`, for the `text` field, are the offsets where this rule's trigger words
        occur; `any` is then only tried there (same result as a search, much cheaper).
        """
        value = view.get(self.field)
        term = ""
        in_headline = False
        if self.any is not None:
            m: re.Match[str] | None = None
            if positions is None:
                m = self.any.search(value)
            else:
                for pos in positions:
                    m = self.any.match(value, pos)
                    if m is not None:
                        break
            if m is None:
                return False, "", False
            term = m.group(0)
            if self.field == "text":
                in_headline = m.start() < len(view.headline)
            else:
                in_headline = self.field in _HEADLINE_FIELDS
        for p in self.all:
            m2 = p.search(value)
            if m2 is None:
                return False, "", False
            if not term:
                term = m2.group(0)
                in_headline = self.field in _HEADLINE_FIELDS
        if self.none is not None and self.none.search(value):
            return False, "", False
        return True, term, in_headline


_HEADLINE_FIELDS = frozenset({"headline", "title", "alertname", "signal"})


@dataclass(frozen=True)
class Rule:
    """A decisive rule (weight None: first match decides) or an evidence rule (adds weight)."""

    id: str
    type: IncidentType | None
    matchers: tuple[Matcher, ...]
    weight: float | None = None
    enabled: bool = True

    @property
    def decisive(self) -> bool:
        return self.weight is None

    @property
    def triggers(self) -> tuple[str, ...] | None:
        """Trigger words of the rule's `text` matcher; None if it cannot be prefiltered."""
        for m in self.matchers:
            if m.field == "text" and m.any is not None:
                return m.triggers
        return None

    @functools.cached_property
    def _checking_order(self) -> tuple[Matcher, ...]:
        # Every matcher must pass, so the order changes no answer (and `none`-only matchers
        # contribute no term): try the ones that must find something first. A `none` over
        # the whole text (the housekeeping gate's) is the costly search; most alerts fail
        # the cheap positive test before it (~100 us per alert, issue 31).
        return tuple(sorted(self.matchers, key=lambda m: m.any is None and not m.all))

    def test(
        self, view: AlertView, positions: Sequence[int] | None = None
    ) -> tuple[bool, str, bool]:
        terms = []
        in_headline = False
        for m in self._checking_order:
            ok, term, head = m.test(view, positions if m.field == "text" else None)
            if not ok:
                return False, "", False
            if term:
                terms.append(term.strip())
            in_headline = in_headline or head
        return True, " + ".join(terms), in_headline
