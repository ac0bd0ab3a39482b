"""Pure: the names of what happens to an incident (timeline kinds) and to an alert (intake).

Both are StrEnums whose values are the strings stored in the database and sent in JSON,
so rows written before these existed read back unchanged and `kind == "note"` still holds.
Readers (console, postmortem, review, demo) compare against these members, not literals.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeAlias


class TimelineKind(enum.StrEnum):
    """What one timeline event records."""

    # The incident itself
    CREATED = "created"
    TRANSITION = "transition"
    NOTE = "note"
    SEVERITY_CHANGED = "severity_changed"
    TITLE_CHANGED = "title_changed"
    DESCRIPTION_CHANGED = "description_changed"
    COMMANDER_CHANGED = "commander_changed"
    RETYPED = "retyped"
    TAXONOMY_CHANGED = "taxonomy_changed"
    REVIEW_UPDATED = "review_updated"
    # Alerts
    ALERT_MERGED = "alert_merged"
    ALERT_RESOLVED = "alert_resolved"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    ALERT_INHIBITED = "alert_inhibited"
    STORM_FOLDED = "storm_folded"
    PAGERDUTY_RESOLVED = "pagerduty_resolved"
    PAGERDUTY_RESOLVE_FAILED = "pagerduty_resolve_failed"
    # Silences
    SILENCE_ADDED = "silence_added"
    SILENCE_UPDATED = "silence_updated"
    SILENCE_EXPIRED = "silence_expired"
    # Systems
    SYSTEM_STATE_CHANGED = "system_state_changed"
    MODEL_VERSION_MARKED = "model_version_marked"
    # Playbook runs
    RUN_PLANNED = "run_planned"
    PLAYBOOK_DEFERRED = "playbook_deferred"
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    RUN_NEEDS_ATTENTION = "run_needs_attention"
    RUN_CANCELLED = "run_cancelled"
    RUN_REDRIVEN = "run_redriven"
    RUN_STUCK = "run_stuck"
    SLACK_APPROVAL_REQUESTED = "slack_approval_requested"
    SLACK_ATTENTION_SENT = "slack_attention_sent"
    # Playbook steps (the engine's own)
    STEP_STARTED = "run_step_started"
    STEP_FINISHED = "run_step_finished"
    STEP_WAITING_APPROVAL = "run_step_waiting_approval"
    STEP_APPROVAL_TIMED_OUT = "run_step_approval_timed_out"
    STEP_ATTEMPT_FAILED = "run_step_attempt_failed"
    STEP_RETRY_REQUESTED = "run_step_retry_requested"
    STEP_APPROVED = "run_step_approved"
    STEP_REJECTED = "run_step_rejected"
    # What actions record
    STEP_NOTIFICATION_SENDING = "run_step_notification_sending"
    STEP_NOTIFICATION_SENT = "run_step_notification_sent"
    STEP_NOTIFICATION_FAILED = "run_step_notification_failed"
    STEP_NOTIFICATION_SKIPPED = "run_step_notification_skipped"
    STEP_EVIDENCE_COLLECTED = "run_step_evidence_collected"
    STEP_IMPACT_ASSESSED = "run_step_impact_assessed"
    STEP_ROLLBACK_PLANNED = "run_step_rollback_planned"
    STEP_CONTROL_FAILED = "run_step_control_failed"
    STEP_CONTROL_SKIPPED = "run_step_control_skipped"
    CONTAINMENT_WITHHELD = "containment_withheld"
    STEP_VERIFIED = "run_step_verified"
    STEP_VERIFICATION_FAILED = "run_step_verification_failed"
    STEP_VERIFICATION_SKIPPED = "run_step_verification_skipped"
    STEP_UNVERIFIED = "run_step_unverified"
    STEP_USER_NOTIFIED = "run_step_user_notified"
    STEP_USER_NOTIFICATION_FAILED = "run_step_user_notification_failed"
    STEP_USER_NOT_NOTIFIABLE = "run_step_user_not_notifiable"
    STEP_CHECKLIST = "run_step_checklist"
    # Paging (page_oncall)
    PAGE_SENT = "page_sent"
    PAGE_FAILED = "page_failed"
    ESCALATED = "escalated"
    PAGING_STOPPED = "paging_stopped"


class IngestAction(enum.StrEnum):
    """What intake did with one alert (the `action` of its answer and its stored row)."""

    CREATED = "created"
    MERGED = "merged"
    REOPENED = "reopened"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    CLEARED = "cleared"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    SILENCED = "silenced"
    INHIBITED = "inhibited"
    # Past the storm limits, into the sender's storm incident.
    FOLDED = "folded"


# What an action's `ctx.record` / `ctx.timeline` may write: a member, or a third-party
# action's own kind (plugins register through entry points and cannot extend this enum).
# Every writer inside defib passes a member; tests/test_events.py checks no literal slips in.
RecordedKind: TypeAlias = TimelineKind | str

# Timeline kinds whose data carries what an alert said (the taxonomy's evidence).
ALERT_EVIDENCE_KINDS = frozenset({TimelineKind.CREATED, TimelineKind.ALERT_MERGED})


def is_reopen(kind: str, data: Mapping[str, Any]) -> bool:
    """A reopen is a `transition` whose command is `reopen` (there is no `reopened` kind)."""
    return kind == TimelineKind.TRANSITION and data.get("command") == "reopen"
