"""The embedded Python API: `Responder` runs intake in-process, no server needed.

The method names (`detect_incident`, `classify_incident`, `assess_severity`,
`trigger_response`) are the ones users know from the framework defib grows out of.
`Responder(config, worker=True)` also runs the playbooks in this process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from defib.bootstrap import Runtime
from defib.config import Settings, load_settings
from defib.events import IngestAction
from defib.intake.results import IngestResult
from defib.model import Alert, Incident, IncidentType, Severity, TimelineEvent
from defib.playbooks.engine import RunConflict
from defib.playbooks.engine.worker import Worker
from defib.playbooks.runs import Run


class Responder:
    """Detects incidents from alerts and keeps them in the configured database.

    `config` is a `Settings`, a mapping of settings keys, a path to a YAML config file, or
    None for the defaults (SQLite under ./.defib).
    """

    def __init__(
        self,
        config: Settings | Mapping[str, Any] | str | Path | None = None,
        *,
        worker: bool = False,
    ) -> None:
        if isinstance(config, Settings):
            settings = config
        elif isinstance(config, Mapping):
            settings = load_settings(None, **dict(config))
        else:
            settings = load_settings(config)
        self.runtime = Runtime(settings)
        self.actor = "responder"
        # With worker=True this process runs the playbooks itself (one DBOS per process).
        self._worker: Worker | None = (
            Worker(self.runtime.engine, self.runtime.executor_id).start() if worker else None
        )

    async def __aenter__(self) -> Responder:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.runtime.close()

    def _alerts(self, alert: Mapping[str, Any] | Alert) -> list[Alert]:
        if isinstance(alert, Alert):
            return [alert]
        return self.runtime.intake.parse(dict(alert))

    def classify_incident(self, alert: Mapping[str, Any] | Alert) -> IncidentType | None:
        """The incident type of the (first) alert in the payload, or None for no incident."""
        alerts = self._alerts(alert)
        return self.runtime.intake.classifier.decide(alerts[0]).type if alerts else None

    def assess_severity(
        self, alert: Mapping[str, Any] | Alert, incident_type: IncidentType | None = None
    ) -> Severity | None:
        """The severity the policy gives the (first) alert, or None when it is no incident."""
        alerts = self._alerts(alert)
        if not alerts:
            return None
        decision = self.runtime.intake.classifier.decide(alerts[0])
        if incident_type is None or incident_type == decision.type:
            return decision.severity
        from defib.classify import assess_severity

        return assess_severity(incident_type, alerts[0])

    async def ingest(self, payload: Mapping[str, Any] | list[Any]) -> list[IngestResult]:
        """Store every alert of a payload (any supported format); one result per alert."""
        return await asyncio.to_thread(self.runtime.intake.ingest, payload, None, self.actor)

    async def detect_incident(self, alert: Mapping[str, Any]) -> Incident | None:
        """Store the alert; return its incident (created, merged or reopened) or None.

        A new or reopened incident gets its response triggered.
        """
        results = await self.ingest(alert)
        for result in results:
            if result.incident_id is None:
                continue
            incident = await asyncio.to_thread(self.runtime.incidents.get, result.incident_id)
            if result.action in (IngestAction.CREATED, IngestAction.REOPENED):
                await self.trigger_response(incident)
            return incident
        return None

    async def trigger_response(self, incident: Incident) -> Run:
        """Make sure the incident's playbook runs; return its active (or newly started) run.

        Intake already plans a run in the transaction that opens or reopens an incident, so
        for those this returns that run. Runs execute in a worker: `defib serve`,
        `defib worker`, or this process when the Responder was made with `worker=True`.
        """

        def ensure() -> Run:
            engine = self.runtime.engine
            playbook = engine.playbooks.for_type(incident.type).name
            for run in engine.list_runs(incident.id):
                if run.playbook == playbook and run.is_active and not run.dry_run:
                    return run
            try:
                return engine.start_run(incident.id, self.actor)
            except RunConflict:  # started meanwhile by someone else
                runs = engine.list_runs(incident.id)
                return next(r for r in runs if r.playbook == playbook and r.is_active)

        return await asyncio.to_thread(ensure)

    async def run(self, run_id: str) -> Run:
        """A run with its steps."""
        return await asyncio.to_thread(self.runtime.engine.get_run, run_id)

    async def get_incident(self, incident_id: str) -> Incident:
        return await asyncio.to_thread(self.runtime.incidents.get, incident_id)

    async def timeline(self, incident_id: str) -> list[TimelineEvent]:
        return await asyncio.to_thread(self.runtime.incidents.timeline, incident_id)
