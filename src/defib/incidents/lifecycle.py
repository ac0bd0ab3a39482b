"""The incident lifecycle: read, declare, patch, transition, note, retype. Owns transactions.

The API, the CLI and the embedded `Responder` all come through here, so every change is
validated once and lands on the timeline in the same transaction as the change itself.
Alerts reach incidents through `intake.folding.AlertFolding`, which plans runs and announces
resolves through this service's `plan`, `after_commit` and `announce_resolved`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from defib.clock import Clock, utcnow
from defib.events import RecordedKind, TimelineKind
from defib.model import (
    Command,
    IllegalTransition,
    Incident,
    IncidentType,
    InvalidInput,
    Severity,
    Status,
    TimelineEvent,
    parse_incident_id,
    transition,
    unique_systems,
)
from defib.store import alerts as alert_repo
from defib.store import incidents as repo
from defib.store.database import Database

log = logging.getLogger(__name__)


class ResponseHooks(Protocol):
    """How the playbook engine learns of incidents that need a response.

    `plan` runs inside the transaction that opens (or reopens) the incident, so the run it
    records commits or rolls back with the incident: an outbox, nothing lost on a crash.
    `after_commit` only wakes the engine early; a sweeper must cope if it never runs.
    """

    def plan(self, conn: Connection, incident: Incident, actor: str) -> None: ...

    def after_commit(self, incidents: Sequence[Incident]) -> None: ...


# Told after a commit that resolved incidents, with the database and their seqs. Listeners
# run in the committing thread and must return at once (hand real work to a thread); a
# listener's failure is logged, never raised into the resolve.
ResolvedListener = Callable[[Database, Sequence[int]], None]


@dataclass(frozen=True, slots=True)
class IncidentDraft:
    """What a person supplies to declare an incident by hand."""

    type: IncidentType
    severity: Severity
    title: str
    description: str = ""
    affected_systems: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    commander: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentPatch:
    """Fields a person may change; None means "leave as is"."""

    title: str | None = None
    severity: Severity | None = None
    commander: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AlertSeries:
    """One alert an incident holds: its series at the source and whether it still fires."""

    key: str
    firing: bool
    changed_at: datetime


def _clean_title(title: str) -> str:
    text = title.strip()
    if not text:
        raise InvalidInput("title: must not be empty")
    if len(text) > 500:
        raise InvalidInput("title: at most 500 characters")
    return text


class IncidentService:
    """Every use case on incidents, each in one transaction."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utcnow,
        hooks: ResponseHooks | None = None,
        on_resolved: Sequence[ResolvedListener] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.hooks = hooks
        # Told whenever incidents resolve (by a person, a playbook or alerts clearing); the
        # runtime wires the PagerDuty resolve (`defib.actions.resolve`) here.
        self.on_resolved = tuple(on_resolved)

    # -- response hooks (also used by alert folding) -----------------------------------

    def announce_resolved(self, seqs: Sequence[int]) -> None:
        """Tell the resolve listeners, after the commit, of the incidents it resolved."""
        if not seqs:
            return
        for listener in self.on_resolved:
            try:
                listener(self.db, seqs)
            except Exception:
                log.exception("resolve listener %r failed", listener)

    def plan(self, conn: Connection, incident: Incident, actor: str) -> None:
        """Plan the incident's response inside the transaction that opens it (the outbox)."""
        if self.hooks is not None:
            self.hooks.plan(conn, incident, actor)

    def after_commit(self, opened: Sequence[Incident]) -> None:
        """Wake the engine early for incidents just opened (a sweeper copes if this is lost)."""
        if self.hooks is not None and opened:
            self.hooks.after_commit(opened)

    # -- reads -------------------------------------------------------------------------

    def get(self, incident_id: str) -> Incident:
        with self.db.read() as conn:
            return repo.get_incident(conn, parse_incident_id(incident_id))

    def search(
        self, flt: repo.IncidentFilter, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Incident], str | None]:
        if not 1 <= limit <= 500:
            raise InvalidInput("limit: must be between 1 and 500")
        with self.db.read() as conn:
            return repo.list_incidents(conn, flt, limit=limit, cursor=cursor)

    def alert_series(self, incident_id: str) -> list[AlertSeries]:
        """The alerts (source series) the incident holds, each with its own state."""
        seq = parse_incident_id(incident_id)
        with self.db.read() as conn:
            repo.get_incident(conn, seq)  # NotFound for an unknown incident
            rows = alert_repo.series_of_incident(conn, seq)
        return [AlertSeries(r.source_key, bool(r.firing), r.changed_at) for r in rows]

    def timeline(
        self, incident_id: str, *, after_id: int | None = None, limit: int = 1000
    ) -> list[TimelineEvent]:
        seq = parse_incident_id(incident_id)
        with self.db.read() as conn:
            repo.get_incident(conn, seq)
            return repo.list_events(conn, seq, after_id=after_id, limit=limit)

    # -- writes by people --------------------------------------------------------------

    def declare(self, draft: IncidentDraft, actor: str) -> Incident:
        now = self.clock()
        incident = Incident(
            seq=0,
            type=draft.type,
            severity=draft.severity,
            title=_clean_title(draft.title),
            description=draft.description,
            status=Status.DETECTED,
            detected_at=now,
            affected_systems=unique_systems(draft.affected_systems),
            labels=dict(draft.labels),
            commander=draft.commander,
            created_by=actor,
        )

        def write(conn: Connection) -> Incident:
            stored = repo.insert_incident(conn, incident, now)
            repo.append_event(
                conn,
                stored.seq,
                TimelineEvent(
                    at=now,
                    actor=actor,
                    kind=TimelineKind.CREATED,
                    data={
                        "how": "declared",
                        "type": stored.type.value,
                        "severity": stored.severity.value,
                        "title": stored.title,
                        "systems": list(stored.affected_systems),
                    },
                ),
            )
            self.plan(conn, stored, actor)
            return stored

        stored = self.db.transact(write)
        self.after_commit([stored])
        return stored

    def patch(self, incident_id: str, change: IncidentPatch, actor: str) -> Incident:
        seq = parse_incident_id(incident_id)
        now = self.clock()

        def write(conn: Connection) -> Incident:
            current = repo.get_incident(conn, seq, for_update=True)
            updated = current
            events: list[TimelineEvent] = []
            if change.title is not None and _clean_title(change.title) != current.title:
                updated = dataclasses.replace(updated, title=_clean_title(change.title))
                events.append(
                    TimelineEvent(
                        now,
                        actor,
                        TimelineKind.TITLE_CHANGED,
                        {"from": current.title, "to": updated.title},
                    )
                )
            if change.description is not None and change.description != current.description:
                updated = dataclasses.replace(updated, description=change.description)
                events.append(TimelineEvent(now, actor, TimelineKind.DESCRIPTION_CHANGED, {}))
            if change.severity is not None and change.severity != current.severity:
                updated = dataclasses.replace(updated, severity=change.severity)
                events.append(
                    TimelineEvent(
                        now,
                        actor,
                        TimelineKind.SEVERITY_CHANGED,
                        {"from": current.severity.value, "to": change.severity.value},
                    )
                )
            if change.commander is not None and change.commander != (current.commander or ""):
                commander = change.commander.strip() or None
                updated = dataclasses.replace(updated, commander=commander)
                events.append(
                    TimelineEvent(
                        now,
                        actor,
                        TimelineKind.COMMANDER_CHANGED,
                        {"from": current.commander, "to": commander},
                    )
                )
            if events:
                repo.update_incident(conn, updated, now)
                for ev in events:
                    repo.append_event(conn, seq, ev)
            return updated

        return self.db.transact(write)

    def apply(
        self, incident_id: str, command: Command, actor: str, note: str | None = None
    ) -> Incident:
        seq = parse_incident_id(incident_id)
        now = self.clock()

        def write(conn: Connection) -> Incident:
            current = repo.get_incident(conn, seq, for_update=True)
            updated, event = transition(current, command, now, actor, note)
            try:
                with conn.begin_nested():
                    repo.update_incident(conn, updated, now)
            except IntegrityError as exc:
                # Reopening while a newer incident holds the fingerprint open would break
                # "one open incident per fingerprint".
                raise IllegalTransition(
                    f"cannot reopen {current.id}: a newer open incident tracks the same alerts"
                ) from exc
            repo.append_event(conn, seq, event)
            return updated

        updated = self.db.transact(write)
        if updated.status is Status.RESOLVED:
            self.announce_resolved([updated.seq])
        return updated

    def add_note(self, incident_id: str, text: str, actor: str) -> TimelineEvent:
        body = text.strip()
        if not body:
            raise InvalidInput("text: must not be empty")
        if len(body) > 20_000:
            raise InvalidInput("text: at most 20000 characters")
        seq = parse_incident_id(incident_id)
        now = self.clock()

        def write(conn: Connection) -> TimelineEvent:
            repo.get_incident(conn, seq)
            return repo.append_event(
                conn, seq, TimelineEvent(now, actor, TimelineKind.NOTE, {"text": body})
            )

        return self.db.transact(write)

    def record_event(
        self,
        incident_id: str,
        kind: RecordedKind,
        data: Mapping[str, Any],
        actor: str,
        *,
        idempotency_key: str | None = None,
    ) -> TimelineEvent:
        """Append an event written by the system (a playbook step, an integration).

        `kind` may be an integration's or plugin action's own (actions get this service
        through their environment), hence `TimelineKind | str`.
        With an `idempotency_key`, a repeated call (a step re-run after a crash) returns the
        event already stored instead of writing a second one.
        """
        seq = parse_incident_id(incident_id)
        at = self.clock()

        def write(conn: Connection) -> TimelineEvent:
            repo.get_incident(conn, seq)
            return repo.append_event(
                conn,
                seq,
                TimelineEvent(at, actor, kind, data),
                idempotency_key=idempotency_key,
            )

        return self.db.transact(write)

    def retype(self, incident_id: str, new_type: IncidentType, reason: str, actor: str) -> Incident:
        """A person's answer to a triage incident (or a correction of any incident's type).

        The type changes and `needs_triage` clears; the severity becomes what the policy
        gave the incident's alert for the new type (kept when unknown: a declared incident
        or one typed by a rule); the timeline records who and why; the new type's playbook
        is planned in the same transaction. The fingerprint stays, so the same alerts keep
        merging into this incident.
        """
        why = reason.strip()
        if not why:
            raise InvalidInput("reason: say why the type changes")
        if len(why) > 2000:
            raise InvalidInput("reason: at most 2000 characters")
        seq = parse_incident_id(incident_id)
        now = self.clock()

        def write(conn: Connection) -> tuple[Incident, bool]:
            current = repo.get_incident(conn, seq, for_update=True)
            if not current.status.is_open:
                raise IllegalTransition(f"{current.id} is {current.status.value}: reopen it first")
            if new_type is current.type and not current.needs_triage:
                return current, False
            severity = _severity_for(repo.list_events(conn, seq, limit=1), new_type)
            updated = dataclasses.replace(
                current,
                type=new_type,
                needs_triage=False,
                severity=severity or current.severity,
            )
            repo.update_incident(conn, updated, now)
            repo.append_event(
                conn,
                seq,
                TimelineEvent(
                    now,
                    actor,
                    TimelineKind.RETYPED,
                    {
                        "from": current.type.value,
                        "to": new_type.value,
                        "reason": why,
                        "was_triage": current.needs_triage,
                        "severity": {"from": current.severity.value, "to": updated.severity.value},
                    },
                ),
            )
            # Confirming a triage guess starts the type's own playbook too (the triage
            # incident only had the generic one).
            replan = new_type is not current.type or current.needs_triage
            if replan:
                self.plan(conn, updated, actor)
            return updated, replan

        updated, replan = self.db.transact(write)
        if replan:
            self.after_commit([updated])
        return updated


def _severity_for(first: Sequence[TimelineEvent], new_type: IncidentType) -> Severity | None:
    """The severity the policy gave the incident's first alert for `new_type`, if known."""
    if not first or first[0].kind != TimelineKind.CREATED:
        return None
    by_type = first[0].data.get("severity_by_type")
    if not isinstance(by_type, Mapping) or new_type.value not in by_type:
        return None
    return Severity(by_type[new_type.value])
