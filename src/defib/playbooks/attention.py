"""Pure: whether a run whose steps all ended did its job, or needs a person's attention.

A run "succeeds" only when every required step did what it is for. A required step that
was skipped (not by its own `when`, not silenced by a person) or ended `unverified`, and a
SEV1/SEV2 incident whose notification steps reached nobody, each give a reason; any reason
makes the run `needs_attention`. Failed steps are not reasons here: they fail the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from defib.playbooks.runs import RunStatus, RunStep
from defib.playbooks.spec import Step

NOTIFY_ACTIONS = frozenset({"notify_team", "notify_security_team"})
URGENT_SEVERITIES = frozenset({"SEV1", "SEV2"})


def _skip_is_deliberate(spec: Step, row: RunStep) -> bool:
    """A conditional step whose `when` was false, or a notification a person silenced."""
    if spec.when is not None:
        return True
    return bool(row.output and row.output.get("silenced_by"))


def _reached(row: RunStep) -> int:
    output: Mapping[str, Any] = row.output or {}
    sent = output.get("sent", 0)
    return int(sent) if isinstance(sent, int | float) else 0


def attention_reasons(
    steps: Sequence[Step], rows: Sequence[RunStep], severity: str | None
) -> list[str]:
    """Why this finished run needs a person (empty: it did its job)."""
    reasons: list[str] = []
    notify_rows: list[RunStep] = []
    for spec, row in zip(steps, rows, strict=False):
        if spec.action in NOTIFY_ACTIONS:
            notify_rows.append(row)
        if not spec.is_required:
            continue
        if row.status is RunStatus.UNVERIFIED:
            reasons.append(f"{row.name} is unverified: confirm the fix or act")
        elif row.status is RunStatus.SKIPPED and not _skip_is_deliberate(spec, row):
            reason = (row.output or {}).get("reason")
            why = f": {reason}" if reason else ""
            reasons.append(f"required step {row.name} was skipped{why}")
    silenced = any(r.output and r.output.get("silenced_by") for r in notify_rows)
    if (
        severity in URGENT_SEVERITIES
        and notify_rows
        and not silenced
        and not any(_reached(r) for r in notify_rows)
    ):
        reasons.append(f"{severity} incident: no notification reached anyone")
    return reasons
