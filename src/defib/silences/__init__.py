"""Silences, maintenance windows and inhibition: keeping quiet when asked. Pure logic."""

from defib.silences.decide import (
    DEFAULT_INHIBIT_RULES,
    InhibitRule,
    Source,
    inhibited_by,
    label_sets,
    silenced_by,
)
from defib.silences.matchers import Matcher, matches_all, parse_matcher, parse_matchers
from defib.silences.model import Silence
from defib.silences.schedule import Weekly

__all__ = [
    "DEFAULT_INHIBIT_RULES",
    "InhibitRule",
    "Matcher",
    "Silence",
    "Source",
    "Weekly",
    "inhibited_by",
    "label_sets",
    "matches_all",
    "parse_matcher",
    "parse_matchers",
    "silenced_by",
]
