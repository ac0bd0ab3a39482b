"""On call: people, schedules (layered rotations, overrides) and escalation policies. Pure.

The paging itself runs as a durable playbook run (`defib.actions.escalate`); overrides
are stored by `defib.store.oncall` and managed through `defib.oncall.service`.
"""

from defib.oncall.durations import format_duration, parse_clock, parse_duration, parse_handoff
from defib.oncall.escalation import Page, pages_severity, policies_for, timetable
from defib.oncall.model import (
    DEFAULT_SEVERITIES,
    Directory,
    Level,
    Override,
    Person,
    Policy,
    Rotation,
    Schedule,
    Target,
)
from defib.oncall.schedule import Shift, shifts, who_is_on_call

__all__ = [
    "DEFAULT_SEVERITIES",
    "Directory",
    "Level",
    "Override",
    "Page",
    "Person",
    "Policy",
    "Rotation",
    "Schedule",
    "Shift",
    "Target",
    "format_duration",
    "pages_severity",
    "parse_clock",
    "parse_duration",
    "parse_handoff",
    "policies_for",
    "shifts",
    "timetable",
    "who_is_on_call",
]
