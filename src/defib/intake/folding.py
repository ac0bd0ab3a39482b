"""Alert folding: stored alerts fold into incidents, in one transaction per group commit.

`AlertFolding` is intake's write side. Given alerts already parsed and classified (each
with its `Triage`), it claims re-deliveries, folds each run of firing alerts with one
fingerprint into its open incident (creating or reopening one), settles resolved and
acknowledged notifications, asks silences and inhibition before an alert opens anything,
keeps floods within the storm limits (the sender's storm incident), stores every alert's
row, and answers one `IngestResult` per alert. A new or reopened incident's playbook run is
planned through the `IncidentService` it was given, in the same transaction; resolves are
announced through it after the commit. The pure parts are in `intake.records`.

Why one module of ~620 lines: claim, settle, quiet, storm and fold are steps of one
transaction that share its tally and claims; split across modules they would pass that
state back and forth. What needs no connection already lives in `intake.records`.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from defib.clock import Clock, utcnow
from defib.events import IngestAction, TimelineKind
from defib.incidents.lifecycle import IncidentService
from defib.intake.correlate import exact_fingerprint
from defib.intake.records import (
    Item,
    alert_info,
    alert_row,
    answer,
    cleared,
    folded,
    latest,
    merge,
    run_end,
    storm_event,
    triage_info,
    with_data,
)
from defib.intake.results import IngestResult, Triage, resolved_seqs
from defib.intake.storm import StormGuard, storm_fingerprint, storm_labels, storm_title, summarise
from defib.model import (
    Alert,
    Command,
    Incident,
    Status,
    TimelineEvent,
    format_incident_id,
    transition,
)
from defib.silences.service import Quiet, QuietGate
from defib.store import alerts as alert_repo
from defib.store import incidents as repo
from defib.store.database import Database

_QUIET_ACTIONS = frozenset({IngestAction.SILENCED, IngestAction.INHIBITED})


@dataclass
class _Tally:
    """Storm protection within one group commit, per request (batch): alerts correlated,
    incidents opened, and per sender the alerts folded into its storm incident."""

    correlated: Counter[int] = field(default_factory=Counter)
    created: Counter[int] = field(default_factory=Counter)
    stormed: dict[str, list[Item]] = field(default_factory=dict)


class AlertFolding:
    """Folds classified alerts into incidents; one transaction per call."""

    def __init__(
        self,
        db: Database,
        incidents: IncidentService,
        *,
        clock: Clock = utcnow,
        reopen_window: timedelta = timedelta(minutes=30),
        quiet: Callable[[], QuietGate] | None = None,
        storm: StormGuard | None = None,
        exact_fold: Collection[str] = (),
    ) -> None:
        self.db = db
        # Plans the runs of the incidents alerts open and announces the ones they resolve.
        self.incidents = incidents
        self.clock = clock
        # A resolved incident whose alert fires again within this window is reopened.
        self.reopen_window = reopen_window
        # Silences and inhibition: asked before an alert opens or reopens an incident.
        self.quiet = quiet
        # Limits on incidents and playbook runs alerts may start (None: unlimited).
        self.storm = storm
        # Alert formats or source names whose alerts fold only with the very same identity
        # (`intake.fold: {pagerduty: exact}`): one dedup_key, one incident.
        self.exact_fold = frozenset(exact_fold)

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
            Item(b, i, alert, self._exact(alert, triage), actor)
            for b, (batch, actor) in enumerate(batches)
            for i, (alert, triage) in enumerate(batch)
        ]
        results: list[list[IngestResult | None]] = [[None] * len(batch) for batch, _ in batches]
        opened: list[Incident] = []
        rows: list[dict[str, Any]] = []
        tally = _Tally()

        def done(item: Item, result: IngestResult, seq: int | None = None) -> None:
            final = dataclasses.replace(result, dedup_key=item.alert.dedup_key)
            results[item.batch][item.index] = final
            if result.action is not IngestAction.DUPLICATE:
                why = result.reason if result.action in _QUIET_ACTIONS else None
                rows.append(alert_row(item.alert, item.triage, now, seq, result.action, why))

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
                end = run_end(fresh, j)
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
                answer(run, action, incident, done)
            self._fold_storms(conn, tally.stormed, now, done)
            alert_repo.store_alerts(conn, rows)
        return self._answered(results, opened, gate)

    def _answered(
        self,
        results: list[list[IngestResult | None]],
        opened: Sequence[Incident],
        gate: QuietGate | None,
    ) -> list[list[IngestResult]]:
        """After the commit: the engine is woken for the incidents opened, the quiet gate
        told (silenced data leaks: security hears of them), the incidents resolved announced;
        every alert's answer."""
        self.incidents.after_commit(opened)
        if gate is not None:
            gate.after_commit()
        answers = [[r for r in batch if r is not None] for batch in results]
        self.incidents.announce_resolved(resolved_seqs(answers))
        return answers

    def _exact(self, alert: Alert, triage: Triage) -> Triage:
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
        conn: Connection, gate: QuietGate | None, head: Item, now: datetime
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
        run: Sequence[Item],
        quiet: Quiet,
        now: datetime,
        done: Callable[[Item, IngestResult, int | None], None],
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
                    TimelineKind.ALERT_INHIBITED,
                    {
                        **alert_info(run[0]),
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
        items: list[Item],
        now: datetime,
        done: Callable[[Item, IngestResult], None],
    ) -> list[Item]:
        """Items that are not re-deliveries; the others are answered `duplicate`."""
        first: dict[tuple[str, str], Item] = {}
        fresh: list[Item] = []
        repeats: list[Item] = []
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
                    incident, Command.ACKNOWLEDGE, max(now, latest(incident)), actor
                )
                repo.update_incident(conn, updated, now)
                repo.append_event(conn, incident.seq, with_data(event, alert=info))
                incident = updated
            else:
                repo.append_event(
                    conn,
                    incident.seq,
                    TimelineEvent(now, actor, TimelineKind.ALERT_ACKNOWLEDGED, info),
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
            TimelineEvent(
                now, actor, TimelineKind.ALERT_RESOLVED, {**info, "still_firing": still_firing}
            ),
        )
        if still_firing == 0:
            clearing = cleared(incident)
            if clearing is not None:
                command, note, action, reason = clearing
                updated, event = transition(
                    incident, command, max(now, latest(incident)), actor, note=note
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

    def _allow_new(self, run: Sequence[Item], tally: _Tally) -> Callable[[], bool] | None:
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
        stormed: Mapping[str, Sequence[Item]],
        now: datetime,
        done: Callable[[Item, IngestResult, int | None], None],
    ) -> None:
        for actor, items in stormed.items():
            storm = self._fold_storm(conn, actor, items, now)
            for it in items:
                done(it, folded(storm, it.triage.reason), storm.seq)

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
                    TimelineKind.PLAYBOOK_DEFERRED,
                    {
                        "why": "playbook runs for these systems are over "
                        f"{self.storm.limits.playbook_runs_per_system_per_minute} a minute "
                        "(storm protection); start one with `defib runs start`",
                        "systems": list(incident.affected_systems),
                    },
                ),
            )
            return False
        self.incidents.plan(conn, incident, actor)
        return True

    def _fold_storm(
        self, conn: Connection, actor: str, items: Sequence[Item], now: datetime
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
            repo.append_event(conn, merged.seq, storm_event(now, actor, add, labels))
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
            TimelineEvent(
                now, actor, TimelineKind.CREATED, {"how": "storm", "type": head.type.value}
            ),
        )
        repo.append_event(conn, stored.seq, storm_event(now, actor, add, labels))
        return stored

    def _fold(
        self, conn: Connection, run: Sequence[Item], now: datetime, existing: Incident | None
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
        info = alert_info(head)
        if existing is None:
            since = now - self.reopen_window
            recent = repo.find_recently_resolved(conn, triage.fingerprint, since, for_update=True)
            if recent is not None:
                reopened, event = transition(
                    recent, Command.REOPEN, max(now, latest(recent)), head.actor
                )
                merged = merge(reopened, run, now)
                repo.update_incident(conn, merged, now)
                repo.append_event(conn, merged.seq, with_data(event, alert=info, count=len(run)))
                self._note_severity(conn, recent, merged, head.actor, now)
                return IngestAction.REOPENED, merged
            created = self._try_create(conn, run, now, info)
            if created is not None:
                return IngestAction.CREATED, created
            # Another transaction created it between our read and insert: merge into theirs.
            existing = repo.find_open_by_fingerprint(conn, triage.fingerprint, for_update=True)
            assert existing is not None, "unique violation without a visible open incident"
        merged = merge(existing, run, now)
        repo.update_incident(conn, merged, now)
        last = alert_info(run[-1])
        repo.append_event(
            conn,
            merged.seq,
            TimelineEvent(
                now,
                head.actor,
                TimelineKind.ALERT_MERGED,
                {**last, "count": len(run), "alert_count": merged.alert_count},
            ),
        )
        self._note_severity(conn, existing, merged, head.actor, now)
        return IngestAction.MERGED, merged

    def _try_create(
        self, conn: Connection, run: Sequence[Item], now: datetime, info: Mapping[str, Any]
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
        draft = merge(draft, run, now)
        stored = repo.insert_incident_unless_open(conn, draft, now)
        if stored is None:
            return None
        repo.append_event(
            conn,
            stored.seq,
            TimelineEvent(
                now,
                head.actor,
                TimelineKind.CREATED,
                {
                    "how": "alert",
                    "type": stored.type.value,
                    "severity": stored.severity.value,
                    "systems": list(stored.affected_systems),
                    "fingerprint": triage.fingerprint,
                    "alert": dict(info),
                    "count": len(run),
                    **triage_info(triage),
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
                    TimelineKind.SEVERITY_CHANGED,
                    {"from": before.severity.value, "to": after.severity.value, "why": "alert"},
                ),
            )
