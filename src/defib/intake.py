"""The intake use case: payload -> alerts -> decisions -> incidents, in one transaction.

Parsing and classification are pure and run before the transaction opens, so a bad
payload is refused whole before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from defib.classify import Classifier, Decision
from defib.ingest import parse_payload
from defib.model import Alert
from defib.service import IncidentService, IngestResult, Triage


def triage_of(decision: Decision) -> Triage:
    return Triage(
        type=decision.type,
        severity=decision.severity,
        systems=tuple(decision.systems),
        fingerprint=decision.fingerprint,
        reason=decision.reason,
    )


class Intake:
    def __init__(self, incidents: IncidentService, classifier: Classifier) -> None:
        self.incidents = incidents
        self.classifier = classifier

    def parse(
        self, payload: object, fmt: str | None = None, now: datetime | None = None
    ) -> list[Alert]:
        return parse_payload(payload, fmt, now=now or self.incidents.clock())

    def decide(self, alerts: Sequence[Alert]) -> list[tuple[Alert, Triage]]:
        return [(a, triage_of(self.classifier.decide(a))) for a in alerts]

    def ingest(self, payload: object, fmt: str | None, actor: str) -> list[IngestResult]:
        alerts = self.parse(payload, fmt)
        return self.incidents.ingest(self.decide(alerts), actor)
