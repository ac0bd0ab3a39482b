"""Use cases over incidents: declare, update, transition, note, ingest. Owns transactions.

The API, the CLI and the embedded `Responder` all come through here, so every change is
validated once and lands on the timeline in the same transaction as the change itself.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from defib.classify import Decision
from defib.clock import Clock, utcnow
from defib.events import IngestAction
from defib.intake.correlate import exact_fingerprint
from defib.intake.storm import (
    MAX_LISTED_SYSTEMS,
    StormGuard,
    StormSummary,
    storm_fingerprint,
    storm_labels,
    storm_title,
    summarise,
)
from defib.model import (
    Alert,
    Command,
    IllegalTransition,
    Incident,
    IncidentType,
    InvalidInput,
    Severity,
    Status,
    TimelineEvent,
    format_incident_id,
    parse_incident_id,
    raise_severity,
    transition,
    unique_systems,
)
from defib.silences.service import Quiet, QuietGate
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


_QUIET_ACTIONS = frozenset({IngestAction.SILENCED, IngestAction.INHIBITED})
# Incident types whose source reporting every alert resolved proves the failure gone.
_SOURCE_VERIFIED = frozenset({IncidentType.PERFORMANCE, IncidentType.AVAILABILITY})


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


# Intake's decision for one alert is the pure classifier's `Decision`: one type, two names.
Triage = Decision


@dataclass(frozen=True, slots=True)
class _Item:
    """One alert of a group commit, with where its answer goes."""

    batch: int
    index: int
    alert: Alert
    triage: Triage
    actor: str


@dataclass
class _Tally:
    """Storm protection within one group commit, per request (batch): alerts correlated,
    incidents opened, and per sender the alerts folded into its storm incident."""

    correlated: Counter[int] = field(default_factory=Counter)
    created: Counter[int] = field(default_factory=Counter)
    stormed: dict[str, list[_Item]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertSeries:
    """One alert an incident holds: its series at the source and whether it still fires."""

    key: str
    firing: bool
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class IngestResult:
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
        reopen_window: timedelta = timedelta(minutes=30),
        hooks: ResponseHooks | None = None,
        on_resolved: Sequence[ResolvedListener] = (),
        quiet: Callable[[], QuietGate] | None = None,
        storm: StormGuard | None = None,
        exact_fold: Collection[str] = (),
    ) -> None:
        self.db = db
        # Alert formats or source names whose alerts fold only with the very same identity
        # (`intake.fold: {pagerduty: exact}`): one dedup_key, one incident.
        self.exact_fold = frozenset(exact_fold)
        # Silences and inhibition: asked before an alert opens or reopens an incident.
        self.quiet = quiet
        # Limits on incidents and playbook runs alerts may start (None: unlimited).
        self.storm = storm
        self.clock = clock
        self.reopen_window = reopen_window
        self.hooks = hooks
        # Told whenever incidents resolve (by a person, a playbook or alerts clearing); the
        # runtime wires the PagerDuty resolve (`defib.actions.resolve`) here.
        self.on_resolved = tuple(on_resolved)

    def _announce_resolved(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        for listener in self.on_resolved:
            try:
                listener(self.db, seqs)
            except Exception:
                log.exception("resolve listener %r failed", listener)

    def _plan(self, conn: Connection, incident: Incident, actor: str) -> None:
        if self.hooks is not None:
            self.hooks.plan(conn, incident, actor)

    def _after_commit(self, opened: Sequence[Incident], gate: QuietGate | None = None) -> None:
        if self.hooks is not None and opened:
            self.hooks.after_commit(opened)
        if gate is not None:
            gate.after_commit()  # silenced data leaks: security is told (silencing.py)

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
        with self.db.write() as conn:
            stored = repo.insert_incident(conn, incident, now)
            repo.append_event(
                conn,
                stored.seq,
                TimelineEvent(
                    at=now,
                    actor=actor,
                    kind="created",
                    data={
                        "how": "declared",
                        "type": stored.type.value,
                        "severity": stored.severity.value,
                        "title": stored.title,
                        "systems": list(stored.affected_systems),
                    },
                ),
            )
            self._plan(conn, stored, actor)
        self._after_commit([stored])
        return stored

    def patch(self, incident_id: str, change: IncidentPatch, actor: str) -> Incident:
        seq = parse_incident_id(incident_id)
        now = self.clock()
        with self.db.write() as conn:
            current = repo.get_incident(conn, seq, for_update=True)
            updated = current
            events: list[TimelineEvent] = []
            if change.title is not None and _clean_title(change.title) != current.title:
                updated = dataclasses.replace(updated, title=_clean_title(change.title))
                events.append(
                    TimelineEvent(
                        now, actor, "title_changed", {"from": current.title, "to": updated.title}
                    )
                )
            if change.description is not None and change.description != current.description:
                updated = dataclasses.replace(updated, description=change.description)
                events.append(TimelineEvent(now, actor, "description_changed", {}))
            if change.severity is not None and change.severity != current.severity:
                updated = dataclasses.replace(updated, severity=change.severity)
                events.append(
                    TimelineEvent(
                        now,
                        actor,
                        "severity_changed",
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
                        "commander_changed",
                        {"from": current.commander, "to": commander},
                    )
                )
            if events:
                repo.update_incident(conn, updated, now)
                for ev in events:
                    repo.append_event(conn, seq, ev)
            return updated

    def apply(
        self, incident_id: str, command: Command, actor: str, note: str | None = None
    ) -> Incident:
        seq = parse_incident_id(incident_id)
        now = self.clock()
        with self.db.write() as conn:
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
        if updated.status is Status.RESOLVED:
            self._announce_resolved([updated.seq])
        return updated

    def add_note(self, incident_id: str, text: str, actor: str) -> TimelineEvent:
        body = text.strip()
        if not body:
            raise InvalidInput("text: must not be empty")
        if len(body) > 20_000:
            raise InvalidInput("text: at most 20000 characters")
        seq = parse_incident_id(incident_id)
        now = self.clock()
        with self.db.write() as conn:
            repo.get_incident(conn, seq)
            return repo.append_event(conn, seq, TimelineEvent(now, actor, "note", {"text": body}))

    def record_event(
        self,
        incident_id: str,
        kind: str,
        data: Mapping[str, Any],
        actor: str,
        *,
        idempotency_key: str | None = None,
    ) -> TimelineEvent:
        """Append an event written by the system (a playbook step, an integration).

        With an `idempotency_key`, a repeated call (a step re-run after a crash) returns the
        event already stored instead of writing a second one.
        """
        seq = parse_incident_id(incident_id)
        with self.db.write() as conn:
            repo.get_incident(conn, seq)
            return repo.append_event(
                conn,
                seq,
                TimelineEvent(self.clock(), actor, kind, data),
                idempotency_key=idempotency_key,
            )

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
        with self.db.write() as conn:
            current = repo.get_incident(conn, seq, for_update=True)
            if not current.status.is_open:
                raise IllegalTransition(f"{current.id} is {current.status.value}: reopen it first")
            if new_type is current.type and not current.needs_triage:
                return current
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
                    "retyped",
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
                self._plan(conn, updated, actor)
        if replan:
            self._after_commit([updated])
        return updated

    # -- intake --------------------------------------------------------------------------

    def ingest(self, items: Sequence[tuple[Alert, Triage]], actor: str) -> list[IngestResult]:
        """Store every alert and fold it into incidents, all in one transaction."""
        return self.ingest_batches([(items, actor)])[0]

    def ingest_batches(
        self, batches: Sequence[tuple[Sequence[tuple[Alert, Triage]], str]]
    ) -> list[list[IngestResult]]:
        """Several senders' alerts in one transaction (a group commit); results per batch.

        Work is done per set, not per alert: re-deliveries are claimed in one statement, a
        run of firing alerts for one fingerprint folds into its incident with one lookup,
        one update and one timeline event, and alert rows are inserted in one batch.
        Fingerprints are visited in sorted order (stable, so one series keeps its order), so
        concurrent transactions on PostgreSQL lock rows in the same order: no deadlocks.
        """
        now = self.clock()
        items = [
            _Item(b, i, alert, self._folding(alert, triage), actor)
            for b, (batch, actor) in enumerate(batches)
            for i, (alert, triage) in enumerate(batch)
        ]
        results: list[list[IngestResult | None]] = [[None] * len(batch) for batch, _ in batches]
        opened: list[Incident] = []
        rows: list[dict[str, Any]] = []
        tally = _Tally()

        def done(item: _Item, result: IngestResult, seq: int | None = None) -> None:
            final = dataclasses.replace(result, dedup_key=item.alert.dedup_key)
            results[item.batch][item.index] = final
            if result.action is not IngestAction.DUPLICATE:
                why = result.reason if result.action in _QUIET_ACTIONS else None
                rows.append(_alert_row(item.alert, item.triage, now, seq, result.action, why))

        # Urgent: alerts go before the playbook runs they started (store.writelock).
        with self.db.write(urgent=True) as conn:
            gate = self.quiet() if self.quiet is not None else None
            fresh = self._claim(conn, items, now, done)
            fresh.sort(key=lambda it: it.triage.fingerprint or it.triage.related_fingerprint or "")
            j = 0
            while j < len(fresh):
                item = fresh[j]
                triage = item.triage
                if not item.alert.firing:
                    result, seq = self._settle(conn, item.alert, triage, item.actor, now)
                    done(item, result, seq)
                    j += 1
                    continue
                if triage.type is None or triage.fingerprint is None or triage.severity is None:
                    done(item, IngestResult(IngestAction.IGNORED, None, None, None, triage.reason))
                    j += 1
                    continue
                end = _run_end(fresh, j)
                run, head, j = fresh[j:end], item, end
                existing, quiet = self._open_or_quiet(conn, gate, head, now)
                if quiet is not None:
                    self._keep_quiet(conn, run, quiet, now, done)
                    continue
                allow = self._allow_new(run, tally)
                if allow is None or (existing is None and not allow()):
                    tally.stormed.setdefault(head.actor, []).extend(run)
                    continue
                action, incident = self._fold(conn, run, now, existing)
                alert_repo.mark_series_firing(
                    conn, incident.seq, [i.alert.series for i in run], now
                )
                if action in (IngestAction.CREATED, IngestAction.REOPENED):
                    tally.created[head.batch] += 1
                    self._opened(conn, incident, head.actor, now, opened, gate)
                _answer(run, action, incident, done)
            self._fold_storms(conn, tally.stormed, now, done)
            alert_repo.store_alerts(conn, rows)
        self._after_commit(opened, gate)
        return self._answered(results)

    def _answered(self, results: list[list[IngestResult | None]]) -> list[list[IngestResult]]:
        """Every alert's answer; the incidents they resolved are announced."""
        answers = [[r for r in batch if r is not None] for batch in results]
        self._announce_resolved(_resolved_seqs(answers))
        return answers

    def _folding(self, alert: Alert, triage: Triage) -> Triage:
        """The triage with an exact-identity fingerprint when the alert's source opted out
        of defib's grouping (numbers and ids in the identity then tell incidents apart)."""
        if not self.exact_fold or (
            alert.format not in self.exact_fold and alert.source not in self.exact_fold
        ):
            return triage
        identity = alert.identity or alert.title
        return dataclasses.replace(
            triage,
            fingerprint=exact_fingerprint(triage.fingerprint, identity),
            related_fingerprint=exact_fingerprint(triage.related_fingerprint, identity),
        )

    @staticmethod
    def _open_or_quiet(
        conn: Connection, gate: QuietGate | None, head: _Item, now: datetime
    ) -> tuple[Incident | None, Quiet | None]:
        """The open incident of the run's fingerprint (locked), or else whether the alerts,
        which would open or reopen one, are silenced or inhibited. An alert that folds into
        an open incident still folds, silence or not."""
        triage = head.triage
        assert triage.fingerprint is not None
        assert triage.type is not None
        assert triage.severity is not None
        existing = repo.find_open_by_fingerprint(conn, triage.fingerprint, for_update=True)
        if existing is not None or gate is None:
            return existing, None
        sev = triage.severity.value
        return None, gate.check(conn, head.alert, triage.type.value, sev, triage.systems, now)

    @staticmethod
    def _keep_quiet(
        conn: Connection,
        run: Sequence[_Item],
        quiet: Quiet,
        now: datetime,
        done: Callable[[_Item, IngestResult, int | None], None],
    ) -> None:
        """Store the alerts with the reason; an inhibited one shows on the inhibitor's timeline.

        Their delivery claims are released, so the same alert delivered again once the
        silence or the inhibiting incident is gone is judged again instead of answered
        `duplicate` (each repeat while still quiet is stored as quiet once more).
        """
        alert_repo.release_deliveries(
            conn, [(it.alert.status, it.alert.delivery_key) for it in run if it.alert.delivery_key]
        )
        inhibitor = format_incident_id(quiet.inhibited_by) if quiet.inhibited_by else None
        if quiet.inhibited_by is not None:
            repo.append_event(
                conn,
                quiet.inhibited_by,
                TimelineEvent(
                    now,
                    run[0].actor,
                    "alert_inhibited",
                    {
                        **_alert_info(run[0]),
                        "type": run[0].triage.type.value if run[0].triage.type else None,
                        "systems": list(run[0].triage.systems),
                        "count": len(run),
                    },
                ),
            )
        for it in run:
            done(
                it,
                IngestResult(
                    quiet.action,
                    None,
                    it.triage.type,
                    it.triage.severity,
                    quiet.reason,
                    silenced_by=quiet.silence_ids,
                    inhibited_by=inhibitor,
                ),
                quiet.inhibited_by,
            )

    @staticmethod
    def _claim(
        conn: Connection,
        items: list[_Item],
        now: datetime,
        done: Callable[[_Item, IngestResult], None],
    ) -> list[_Item]:
        """Items that are not re-deliveries; the others are answered `duplicate`."""
        first: dict[tuple[str, str], _Item] = {}
        fresh: list[_Item] = []
        repeats: list[_Item] = []
        for item in items:
            key = item.alert.delivery_key
            if not key:
                fresh.append(item)
            elif (item.alert.status, key) in first:
                repeats.append(item)
            else:
                first[(item.alert.status, key)] = item
        claimed = alert_repo.claim_deliveries(conn, list(first), now)
        for (status, key), item in first.items():
            if f"{status}|{key}"[:320] in claimed:
                fresh.append(item)
            else:
                repeats.append(item)
        for item in repeats:
            t = item.triage
            # Name the incident the first delivery went to, when it is still open (a repeat
            # within one request finds none yet: its twin is being processed with it).
            fingerprint = t.fingerprint or t.related_fingerprint
            incident = repo.find_open_by_fingerprint(conn, fingerprint) if fingerprint else None
            done(
                item,
                IngestResult(
                    IngestAction.DUPLICATE,
                    incident.id if incident is not None else None,
                    t.type,
                    t.severity,
                    "re-delivery of an alert already received",
                ),
            )
        # Keep the senders' order for alerts of one series.
        fresh.sort(key=lambda it: (it.batch, it.index))
        return fresh

    def _settle(
        self, conn: Connection, alert: Alert, triage: Triage, actor: str, now: datetime
    ) -> tuple[IngestResult, int | None]:
        """A resolved or acknowledged notification: update the open incident it refers to.

        The incident resolves itself only when every series feeding it has cleared and a
        person (or playbook) has already mitigated it: a monitor going quiet is not proof of
        a fix before someone has acted.
        """
        # The series the source names is exact (a PagerDuty resolve may carry no payload to
        # classify); the fingerprint of the firing twin is the fallback.
        incident: Incident | None = None
        seq = alert_repo.open_incident_for_series(conn, alert.series)
        if seq is not None:
            incident = repo.get_incident(conn, seq, for_update=True)
        elif triage.related_fingerprint:
            incident = repo.find_open_by_fingerprint(
                conn, triage.related_fingerprint, for_update=True
            )
        if incident is None:
            return IngestResult(
                IngestAction.IGNORED, None, None, None, f"{alert.status}: no open incident"
            ), None
        info = {"title": alert.title, "source": alert.source, "series": alert.series}
        if alert.status == "acknowledged":
            if incident.status is Status.DETECTED:
                updated, event = transition(
                    incident, Command.ACKNOWLEDGE, max(now, _latest(incident)), actor
                )
                repo.update_incident(conn, updated, now)
                repo.append_event(conn, incident.seq, _with(event, alert=info))
                incident = updated
            else:
                repo.append_event(
                    conn, incident.seq, TimelineEvent(now, actor, "alert_acknowledged", info)
                )
            return IngestResult(
                IngestAction.ACKNOWLEDGED,
                incident.id,
                incident.type,
                incident.severity,
                "source acknowledged",
            ), incident.seq
        alert_repo.mark_series(conn, incident.seq, alert.series, firing=False, now=now)
        still_firing = alert_repo.firing_series(conn, incident.seq)
        repo.append_event(
            conn,
            incident.seq,
            TimelineEvent(now, actor, "alert_resolved", {**info, "still_firing": still_firing}),
        )
        if still_firing == 0:
            cleared = _cleared(incident)
            if cleared is not None:
                command, note, action, reason = cleared
                updated, event = transition(
                    incident, command, max(now, _latest(incident)), actor, note=note
                )
                repo.update_incident(conn, updated, now)
                repo.append_event(conn, incident.seq, event)
                return IngestResult(
                    action, incident.id, incident.type, incident.severity, reason
                ), incident.seq
        why = (
            f"alert cleared; {still_firing} still firing"
            if still_firing
            else "alert cleared; awaiting mitigation"
        )
        return IngestResult(
            IngestAction.CLEARED, incident.id, incident.type, incident.severity, why
        ), incident.seq

    def _allow_new(self, run: Sequence[_Item], tally: _Tally) -> Callable[[], bool] | None:
        """May this run open an incident if it needs one? None: the request is over its
        alert limit, so the run folds into the storm without being correlated."""
        head = run[0]
        tally.correlated[head.batch] += len(run)
        guard = self.storm
        if guard is None:
            return lambda: True
        if tally.correlated[head.batch] > guard.limits.max_alerts_per_request:
            return None
        return lambda: guard.may_open(head.actor, tally.created[head.batch], time.monotonic())

    def _opened(
        self,
        conn: Connection,
        incident: Incident,
        actor: str,
        now: datetime,
        opened: list[Incident],
        gate: QuietGate | None,
    ) -> None:
        """A new or reopened incident: its run (within the storm limits), the quiet gate."""
        if self._plan_limited(conn, incident, actor, now):
            opened.append(incident)
        if gate is not None:
            gate.opened(incident)

    def _fold_storms(
        self,
        conn: Connection,
        stormed: Mapping[str, Sequence[_Item]],
        now: datetime,
        done: Callable[[_Item, IngestResult, int | None], None],
    ) -> None:
        for actor, items in stormed.items():
            storm = self._fold_storm(conn, actor, items, now)
            for it in items:
                done(it, _folded(storm, it.triage.reason), storm.seq)

    def _plan_limited(
        self, conn: Connection, incident: Incident, actor: str, now: datetime
    ) -> bool:
        """Plan the incident's playbook run unless its systems had too many this minute."""
        if self.storm is not None and not self.storm.may_run(
            incident.affected_systems, time.monotonic()
        ):
            repo.append_event(
                conn,
                incident.seq,
                TimelineEvent(
                    now,
                    actor,
                    "playbook_deferred",
                    {
                        "why": "playbook runs for these systems are over "
                        f"{self.storm.limits.playbook_runs_per_system_per_minute} a minute "
                        "(storm protection); start one with `defib runs start`",
                        "systems": list(incident.affected_systems),
                    },
                ),
            )
            return False
        self._plan(conn, incident, actor)
        return True

    def _fold_storm(
        self, conn: Connection, actor: str, items: Sequence[_Item], now: datetime
    ) -> Incident:
        """Fold alerts past the storm limits into the sender's one open storm incident."""
        fingerprint = storm_fingerprint(actor)
        add = summarise(
            (it.triage.systems for it in items),
            (it.triage.type.value for it in items if it.triage.type is not None),
            (it.triage.severity for it in items if it.triage.severity is not None),
        )
        existing = repo.find_open_by_fingerprint(conn, fingerprint, for_update=True)
        if existing is not None:
            labels = storm_labels(existing.labels, actor, add)
            merged = dataclasses.replace(
                existing,
                labels=labels,
                title=storm_title(actor, labels),
                alert_count=existing.alert_count + len(items),
                last_seen_at=now,
                severity=max(existing.severity, add.severity),
            )
            repo.update_incident(conn, merged, now)
            repo.append_event(conn, merged.seq, _storm_event(now, actor, add, labels))
            self._note_severity(conn, existing, merged, actor, now)
            return merged
        head = items[0].triage
        assert head.type is not None
        labels = storm_labels({}, actor, add)
        draft = Incident(
            seq=0,
            type=head.type,
            severity=add.severity,
            title=storm_title(actor, labels),
            description=(
                "More alerts than the storm limits allow arrived from this sender; instead of "
                "an incident each, they are counted here. No playbook runs for a storm "
                "incident: triage the systems listed in its labels."
            ),
            status=Status.DETECTED,
            detected_at=now,
            affected_systems=(),
            labels=labels,
            fingerprint=fingerprint,
            alert_count=len(items),
            first_seen_at=now,
            last_seen_at=now,
            created_by=actor,
        )
        stored = repo.insert_incident(conn, draft, now)
        repo.append_event(
            conn,
            stored.seq,
            TimelineEvent(now, actor, "created", {"how": "storm", "type": head.type.value}),
        )
        repo.append_event(conn, stored.seq, _storm_event(now, actor, add, labels))
        return stored

    def _fold(
        self, conn: Connection, run: Sequence[_Item], now: datetime, existing: Incident | None
    ) -> tuple[IngestAction, Incident]:
        """Fold a run of firing alerts with one fingerprint into `existing`, its open incident
        (looked up, locked, by the caller).

        The first alert creates or reopens the incident when none is open; the rest merge.
        One timeline event records the run (with its count), not one per alert.
        """
        head = run[0]
        triage = head.triage
        # Narrowing for the type checker: only classified alerts are folded.
        assert triage.type is not None
        assert triage.severity is not None
        assert triage.fingerprint is not None
        info = _alert_info(head)
        if existing is None:
            since = now - self.reopen_window
            recent = repo.find_recently_resolved(conn, triage.fingerprint, since, for_update=True)
            if recent is not None:
                reopened, event = transition(
                    recent, Command.REOPEN, max(now, _latest(recent)), head.actor
                )
                merged = _merge(reopened, run, now)
                repo.update_incident(conn, merged, now)
                repo.append_event(conn, merged.seq, _with(event, alert=info, count=len(run)))
                self._note_severity(conn, recent, merged, head.actor, now)
                return IngestAction.REOPENED, merged
            created = self._try_create(conn, run, now, info)
            if created is not None:
                return IngestAction.CREATED, created
            # Another transaction created it between our read and insert: merge into theirs.
            existing = repo.find_open_by_fingerprint(conn, triage.fingerprint, for_update=True)
            assert existing is not None, "unique violation without a visible open incident"
        merged = _merge(existing, run, now)
        repo.update_incident(conn, merged, now)
        last = _alert_info(run[-1])
        repo.append_event(
            conn,
            merged.seq,
            TimelineEvent(
                now,
                head.actor,
                "alert_merged",
                {**last, "count": len(run), "alert_count": merged.alert_count},
            ),
        )
        self._note_severity(conn, existing, merged, head.actor, now)
        return IngestAction.MERGED, merged

    def _try_create(
        self, conn: Connection, run: Sequence[_Item], now: datetime, info: Mapping[str, Any]
    ) -> Incident | None:
        head = run[0]
        alert, triage = head.alert, head.triage
        assert triage.type is not None
        assert triage.severity is not None
        draft = Incident(
            seq=0,
            type=triage.type,
            severity=triage.severity,
            title=(alert.title.strip() or f"{triage.type.value} alert")[:500],
            description=alert.description,
            status=Status.DETECTED,
            detected_at=now,
            affected_systems=triage.systems,
            labels={str(k): str(v) for k, v in alert.labels.items()},
            fingerprint=triage.fingerprint,
            alert_count=0,
            first_seen_at=now,
            last_seen_at=now,
            created_by=head.actor,
            needs_triage=triage.needs_triage,
        )
        draft = _merge(draft, run, now)
        stored = repo.insert_incident_unless_open(conn, draft, now)
        if stored is None:
            return None
        repo.append_event(
            conn,
            stored.seq,
            TimelineEvent(
                now,
                head.actor,
                "created",
                {
                    "how": "alert",
                    "type": stored.type.value,
                    "severity": stored.severity.value,
                    "systems": list(stored.affected_systems),
                    "fingerprint": triage.fingerprint,
                    "alert": dict(info),
                    "count": len(run),
                    **_triage_info(triage),
                },
            ),
        )
        return stored

    @staticmethod
    def _note_severity(
        conn: Connection, before: Incident, after: Incident, actor: str, now: datetime
    ) -> None:
        if after.severity != before.severity:
            repo.append_event(
                conn,
                after.seq,
                TimelineEvent(
                    now,
                    actor,
                    "severity_changed",
                    {"from": before.severity.value, "to": after.severity.value, "why": "alert"},
                ),
            )


def _severity_for(first: Sequence[TimelineEvent], new_type: IncidentType) -> Severity | None:
    """The severity the policy gave the incident's first alert for `new_type`, if known."""
    if not first or first[0].kind != "created":
        return None
    by_type = first[0].data.get("severity_by_type")
    if not isinstance(by_type, Mapping) or new_type.value not in by_type:
        return None
    return Severity(by_type[new_type.value])


def _cleared(incident: Incident) -> tuple[Command, str, IngestAction, str] | None:
    """What every alert of `incident` clearing does to it: (command, note, answer, reason).

    A mitigated incident resolves. For latency and reachability the source's resolve is the
    evidence that the failure is gone, so such an incident not yet mitigated is mitigated;
    a content incident waits for its samples to be replayed or a person (None).
    """
    if incident.status is Status.MITIGATED:
        note = "every alert cleared after mitigation"
        return Command.RESOLVE, note, IngestAction.RESOLVED, "all alerts cleared"
    if incident.type in _SOURCE_VERIFIED and incident.status.order < Status.MITIGATED.order:
        note = "verified by the source: every alert of the incident resolved"
        reason = "all alerts cleared: mitigated on the source's word"
        return Command.MITIGATE, note, IngestAction.CLEARED, reason
    return None


def _resolved_seqs(answers: Sequence[Sequence[IngestResult]]) -> list[int]:
    """The incidents these answers resolved, each once, in order."""
    return sorted(
        {
            parse_incident_id(r.incident_id)
            for batch in answers
            for r in batch
            if r.action is IngestAction.RESOLVED and r.incident_id
        }
    )


def _run_end(fresh: Sequence[_Item], start: int) -> int:
    """The end of the run of firing alerts with `fresh[start]`'s fingerprint."""
    fingerprint = fresh[start].triage.fingerprint
    end = start + 1
    while (
        end < len(fresh)
        and fresh[end].alert.firing
        and (fresh[end].triage.fingerprint == fingerprint)
    ):
        end += 1
    return end


def _answer(
    run: Sequence[_Item],
    action: IngestAction,
    incident: Incident,
    done: Callable[[_Item, IngestResult, int | None], None],
) -> None:
    """The first alert of a run gets the run's action; the others merged into it."""
    for k, it in enumerate(run):
        done(
            it,
            IngestResult(
                action if k == 0 else IngestAction.MERGED,
                incident.id,
                incident.type,
                incident.severity,
                it.triage.reason,
            ),
            incident.seq,
        )


def _folded(storm: Incident, reason: str) -> IngestResult:
    return IngestResult(
        IngestAction.FOLDED,
        storm.id,
        storm.type,
        storm.severity,
        f"alert storm: folded into the sender's storm incident ({reason})",
    )


def _storm_event(
    now: datetime, actor: str, add: StormSummary, labels: Mapping[str, str]
) -> TimelineEvent:
    return TimelineEvent(
        now,
        actor,
        "storm_folded",
        {
            "count": add.alerts,
            "types": dict(add.types),
            "systems": list(add.systems[:MAX_LISTED_SYSTEMS]),
            "system_count": len(add.systems),
            "storm_alerts": int(labels["storm_alerts"]),
        },
    )


def _latest(incident: Incident) -> datetime:
    return max(t for _, t in incident.stamps() if t is not None)


def _merge(incident: Incident, run: Sequence[_Item], now: datetime) -> Incident:
    severity = incident.severity
    for it in run:
        if it.triage.severity is not None:
            severity = raise_severity(severity, it.triage.severity)
    systems = [s for it in run for s in it.triage.systems]
    return dataclasses.replace(
        incident,
        alert_count=incident.alert_count + len(run),
        last_seen_at=now,
        first_seen_at=incident.first_seen_at or now,
        severity=severity,
        affected_systems=unique_systems([*incident.affected_systems, *systems]),
    )


def _alert_info(item: _Item) -> dict[str, Any]:
    return {
        "title": item.alert.title,
        "source": item.alert.source,
        "format": item.alert.format,
        "reason": item.triage.reason,
        "severity": item.triage.severity.value if item.triage.severity else None,
    }


def _triage_info(triage: Triage) -> dict[str, Any]:
    """For an incident opened on a best guess: the flag and the severity each type would
    get for its alert (what a retype applies)."""
    if not triage.needs_triage:
        return {}
    return {
        "needs_triage": True,
        "severity_by_type": {t.value: s.value for t, s in triage.severity_by_type},
    }


def _with(event: TimelineEvent, **extra: Any) -> TimelineEvent:
    return dataclasses.replace(event, data={**event.data, **extra})


def _alert_row(
    alert: Alert,
    triage: Triage,
    now: datetime,
    incident_seq: int | None,
    action: str,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "received_at": now,
        "format": alert.format,
        "source": alert.source[:200],
        "status": alert.status,
        "action": action,
        "incident_seq": incident_seq,
        "type": triage.type.value if triage.type else None,
        "severity": triage.severity.value if triage.severity else None,
        "fingerprint": triage.fingerprint or triage.related_fingerprint,
        "delivery_key": alert.delivery_key[:300] if alert.delivery_key else None,
        "reason": reason or triage.reason,
        "payload": dict(alert.raw),
    }
