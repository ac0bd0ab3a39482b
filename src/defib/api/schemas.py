"""Request and response bodies of the REST API (also what /openapi.json publishes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from defib.api.pagination import Page
from defib.model import Incident, IncidentType, Severity, Status, TimelineEvent
from defib.timefmt import normalise, rfc3339

# Every instant the API answers: RFC 3339, UTC, `Z` (timefmt.rfc3339), whatever the offset
# of the datetime the service handed over.
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# A map an action wrote (event data, step output): its instants are rewritten the same way.
FreeForm = Annotated[
    dict[str, Any], PlainSerializer(normalise, return_type=dict[str, Any], when_used="json")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclareIn(_In):
    type: IncidentType
    severity: Severity
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    affected_systems: list[str] = Field(default_factory=list, max_length=100)
    labels: dict[str, str] = Field(default_factory=dict)
    commander: str | None = Field(default=None, max_length=200)


class PatchIn(_In):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    severity: Severity | None = None
    commander: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=100_000)


class TransitionIn(_In):
    note: str | None = Field(default=None, max_length=20_000)


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=20_000)


class RetypeIn(_In):
    type: IncidentType
    reason: str = Field(min_length=1, max_length=2000)


class IncidentOut(BaseModel):
    id: str
    type: IncidentType
    severity: Severity
    title: str
    description: str
    status: Status
    affected_systems: list[str]
    labels: dict[str, str]
    fingerprint: str | None
    alert_count: int
    first_seen_at: Timestamp | None
    last_seen_at: Timestamp | None
    commander: str | None
    created_by: str
    detected_at: Timestamp
    acknowledged_at: Timestamp | None
    mitigated_at: Timestamp | None
    resolved_at: Timestamp | None
    closed_at: Timestamp | None
    reopened_at: Timestamp | None
    reopen_count: int
    # Opened on the classifier's best guess: confirm or retype it (POST .../retype).
    needs_triage: bool = False

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        return cls(
            id=incident.id,
            type=incident.type,
            severity=incident.severity,
            title=incident.title,
            description=incident.description,
            status=incident.status,
            affected_systems=list(incident.affected_systems),
            labels=dict(incident.labels),
            fingerprint=incident.fingerprint,
            alert_count=incident.alert_count,
            first_seen_at=incident.first_seen_at,
            last_seen_at=incident.last_seen_at,
            commander=incident.commander,
            created_by=incident.created_by,
            detected_at=incident.detected_at,
            acknowledged_at=incident.acknowledged_at,
            mitigated_at=incident.mitigated_at,
            resolved_at=incident.resolved_at,
            closed_at=incident.closed_at,
            reopened_at=incident.reopened_at,
            reopen_count=incident.reopen_count,
            needs_triage=incident.needs_triage,
        )


class IncidentPage(Page[IncidentOut]):
    """Incidents, newest first."""


class EventOut(BaseModel):
    id: int
    incident_id: str
    at: Timestamp
    actor: str
    kind: str
    data: FreeForm

    @classmethod
    def of(cls, incident_id: str, event: TimelineEvent) -> EventOut:
        assert event.id is not None
        return cls(
            id=event.id,
            incident_id=incident_id,
            at=event.at,
            actor=event.actor,
            kind=event.kind,
            data=dict(event.data),
        )


class TimelinePage(Page[EventOut]):
    """Timeline events, oldest first."""


class AlertResultOut(BaseModel):
    """What became of one alert."""

    # A string, not an enum: a new outcome (e.g. silenced) must not turn into a 500.
    action: str = Field(
        description="created/merged/reopened: it opened or joined `incident_id`; duplicate: a "
        "re-delivery already counted; ignored: not an AI incident (see `reason`); cleared, "
        "resolved, acknowledged: a sender's resolve/acknowledge applied to `incident_id`; "
        "silenced, inhibited: recorded, but a silence or inhibition rule kept it from "
        "opening an incident; folded: past the storm limits, counted in the sender's storm "
        "incident (`incident_id`)."
    )
    incident_id: str | None = Field(description="INC-n, or null when ignored.")
    type: IncidentType | None = Field(description="The classified incident type.")
    severity: Severity | None
    reason: str = Field(description="Why: the rule or detector that decided.")
    dedup_key: str | None = Field(default=None, description="The sender's dedup key, echoed.")
    silenced_by: list[str] | None = Field(
        default=None, description="For `silenced`: the ids of the silences that matched."
    )
    inhibited_by: str | None = Field(
        default=None, description="For `inhibited`: the open incident that inhibits it."
    )


class AlertsAccepted(BaseModel):
    """The answer to a batch of alerts: one result per alert, in the order sent."""

    # The first three mirror PagerDuty's Events API answer, so PagerDuty senders are content.
    status: Literal["success"] = Field(default="success", description="Always `success`.")
    message: str = Field(description="`Event processed` or `N alerts processed`.")
    dedup_key: str | None = Field(
        default=None, description="For a single alert with a dedup key (PagerDuty), that key."
    )
    results: list[AlertResultOut]


class Health(BaseModel):
    status: Literal["ok", "ready"]
    version: str
    warnings: list[str] = Field(
        default_factory=list, description="Insecure settings in force (e.g. anonymous gateway)."
    )


class AlertSeriesOut(BaseModel):
    """One alert an incident holds, by its series at the source."""

    key: str = Field(description="The series: Alertmanager label set, PagerDuty dedup_key, ...")
    firing: bool
    changed_at: Timestamp


class AlertSeriesPage(Page[AlertSeriesOut]):
    pass
