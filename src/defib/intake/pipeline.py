"""The intake use case: payload -> alerts -> decisions -> incidents, in one transaction.

Parsing and classification are pure and run before the transaction opens, so a bad
payload is refused whole before anything is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime

from defib.classify import Classifier, Decision
from defib.intake.folding import AlertFolding
from defib.intake.formats import parse_payload
from defib.intake.group_commit import GroupCommitter
from defib.intake.results import IngestResult, Triage
from defib.model import Alert


def triage_of(decision: Decision, related: Decision | None = None) -> Triage:
    if related is None:
        return decision
    return dataclasses.replace(decision, related_fingerprint=related.fingerprint)


class Intake:
    """Parse, classify and store alerts; writes go through one group committer per process."""

    def __init__(
        self,
        folding: AlertFolding,
        classifier: Classifier,
        *,
        on_results: Callable[[Sequence[str], Sequence[str]], None] | None = None,
    ) -> None:
        self.folding = folding
        self.classifier = classifier
        self.committer = GroupCommitter(folding)
        # Told (formats, actions) of every stored batch: the per-process alert counters.
        self.on_results = on_results

    def parse(
        self, payload: object, fmt: str | None = None, now: datetime | None = None
    ) -> list[Alert]:
        return parse_payload(payload, fmt, now=now or self.folding.clock())

    def decide_one(self, alert: Alert) -> Triage:
        decision = self.classifier.decide(alert)
        if alert.firing:
            return triage_of(decision)
        # A resolved notification opens nothing, but must find the incident its firing
        # twin opened: classify the twin for its fingerprint.
        twin = self.classifier.decide(dataclasses.replace(alert, status="firing"))
        return triage_of(decision, related=twin)

    def decide(self, alerts: Sequence[Alert]) -> list[tuple[Alert, Triage]]:
        return [(a, self.decide_one(a)) for a in alerts]

    def submit(self, payload: object, fmt: str | None, actor: str) -> Future[list[IngestResult]]:
        """Parse and classify now (raising PayloadError before anything is written); the
        future completes once the alerts are committed."""
        items = self.decide(self.parse(payload, fmt))
        future = self.committer.submit(items, actor)
        if self.on_results is not None:
            formats = [alert.format for alert, _ in items]
            observe = self.on_results

            def done(f: Future[list[IngestResult]]) -> None:
                if not f.cancelled() and f.exception() is None:
                    observe(formats, [r.action for r in f.result()])

            future.add_done_callback(done)
        return future

    def ingest(self, payload: object, fmt: str | None, actor: str) -> list[IngestResult]:
        return self.submit(payload, fmt, actor).result()

    def close(self) -> None:
        self.committer.close()
