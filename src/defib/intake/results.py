"""Pure: what intake answers for one alert (`IngestResult`) and what it decides first (`Triage`).

The answer is what the REST API returns per alert, what the embedded `Responder` hands
back and, through `action`, what the alert's stored row says happened to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from defib.classify import Decision
from defib.events import IngestAction
from defib.model import IncidentType, Severity, parse_incident_id

# Intake's decision for one alert is the pure classifier's `Decision`: one type, two names.
Triage = Decision


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to one alert: the action, the incident it went to, and why."""

    action: IngestAction
    incident_id: str | None
    type: IncidentType | None
    severity: Severity | None
    reason: str
    dedup_key: str | None = None
    silenced_by: tuple[str, ...] = ()
    inhibited_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action,
            "incident_id": self.incident_id,
            "type": self.type.value if self.type else None,
            "severity": self.severity.value if self.severity else None,
            "reason": self.reason,
            "dedup_key": self.dedup_key,
        }
        if self.silenced_by:
            out["silenced_by"] = list(self.silenced_by)
        if self.inhibited_by:
            out["inhibited_by"] = self.inhibited_by
        return out


def resolved_seqs(answers: Sequence[Sequence[IngestResult]]) -> list[int]:
    """The incidents these answers resolved, each once, in order."""
    return sorted(
        {
            parse_incident_id(r.incident_id)
            for batch in answers
            for r in batch
            if r.action is IngestAction.RESOLVED and r.incident_id
        }
    )
