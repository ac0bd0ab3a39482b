"""Gather what defib stored about an incident into a postmortem document."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from defib.evidence import EvidenceService
from defib.incidents.review import ReviewService
from defib.model import parse_incident_id
from defib.playbooks.runs import Run
from defib.postmortem import document
from defib.store import impact as impact_repo
from defib.store import incidents as repo
from defib.store import runs as runs_repo
from defib.store.database import Database
from defib.taxonomy import load_catalogue

MAX_EVENTS = 5000


class PostmortemService:
    def __init__(
        self,
        db: Database,
        review: ReviewService,
        clock: Callable[[], datetime],
        *,
        evidence: EvidenceService,
    ) -> None:
        self.db = db
        # The runtime's own (shared blob store and checkpoints): never one built here.
        self.evidence = evidence
        self.review = review
        self.clock = clock

    def build(self, incident_id: str) -> dict[str, Any]:
        seq = parse_incident_id(incident_id)
        with self.db.read() as conn:
            incident = repo.get_incident(conn, seq)
            events = repo.list_events(conn, seq, limit=MAX_EVENTS)
            runs: list[Run] = list(reversed(runs_repo.list_runs(conn, seq)))  # oldest first
            impact = impact_repo.get_impact(conn, seq)
        items = self.evidence.list(seq)
        verification = self.evidence.verify(seq).to_dict()
        return document.build(
            incident=incident,
            events=events,
            runs=runs,
            evidence=items,
            verification=verification,
            impact=impact,
            taxonomy=self.review.taxonomy(incident.id).to_dict(load_catalogue()),
            review=self.review.review(incident.id),
            generated_at=self.clock(),
        )
