"""Use cases over silences, maintenance windows and inhibition; owns their transactions.

The Alertmanager v2 API, the CLI and intake all come through here. A silence change lands
on the timeline of every open incident it touches and in the audit log, in the same
transaction; its `createdBy` is the caller (the client's own word goes into the comment).
A silence that covers every alert of a type, a system or everything, or lasts longer than
`max_duration`, needs an admin (`silences.scope`). Intake asks `QuietGate.check` before an
alert would open (or reopen) an incident: an alert that folds into an incident already
open still folds, as the docs say. A silenced data_leak alert is never silent toward
security: the gate records it in the audit log and, after the commit, hands it to
`on_leak` (the runtime's security notifier).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from defib.clock import Clock
from defib.events import IngestAction, TimelineKind
from defib.model import (
    OPEN_STATUSES,
    Alert,
    Incident,
    IncidentType,
    InvalidInput,
    TimelineEvent,
    format_incident_id,
)
from defib.silences import (
    DEFAULT_INHIBIT_RULES,
    InhibitRule,
    Matcher,
    Silence,
    Source,
    Weekly,
    inhibited_by,
    label_sets,
    matches_all,
    silenced_by,
)
from defib.silences.decide import relevant_rules, source_types
from defib.silences.scope import judge, random_names
from defib.store import audit as audit_repo
from defib.store import incidents as incident_repo
from defib.store import silences as repo
from defib.store.database import Database

_TYPES = frozenset(t.value for t in IncidentType)
DEFAULT_MAX_DURATION = timedelta(days=7)


def _forever() -> datetime:
    """Where a config maintenance window's series ends: never (until the config drops it)."""
    return datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SilenceDraft:
    """What a client posts (Alertmanager's postableSilence, plus defib's schedule)."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    id: str | None = None
    schedule: Weekly | None = None


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A maintenance window named in the config."""

    name: str
    matchers: tuple[Matcher, ...]
    schedule: Weekly
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Quiet:
    """Why an alert opens nothing: `silenced` (by silences) or `inhibited` (by an incident)."""

    action: IngestAction
    reason: str
    silence_ids: tuple[str, ...] = ()
    inhibited_by: int | None = None
    told_security: bool = False


@dataclass(frozen=True, slots=True)
class SilencedLeak:
    """A data_leak alert a silence kept from opening an incident: security hears of it."""

    at: datetime
    source: str
    title: str
    severity: str
    systems: tuple[str, ...]
    silence_ids: tuple[str, ...]
    dedup_key: str | None


class NeedsAdmin(Exception):
    """The silence is beyond a responder (too broad or too long); the message says why."""


LeakHandler = Callable[[Sequence[SilencedLeak]], None]


def incident_sets(incident: Incident) -> list[dict[str, str]]:
    return label_sets(
        incident.labels, incident.type.value, incident.severity.value, incident.affected_systems
    )


def _validate(draft: SilenceDraft, now: datetime) -> None:
    if not draft.matchers:
        raise InvalidInput("matchers: at least one matcher")
    if all(m.matches({}) for m in draft.matchers):
        # Alertmanager's rule: a silence must not match every alert.
        raise InvalidInput("matchers: at least one matcher must not match the empty string")
    if draft.ends_at <= draft.starts_at:
        raise InvalidInput("endsAt: must be after startsAt")
    if draft.ends_at <= now:
        raise InvalidInput("endsAt: must be in the future")
    if not draft.created_by.strip():
        raise InvalidInput("createdBy: must not be empty")
    if len(draft.comment) > 10_000:
        raise InvalidInput("comment: at most 10000 characters")


def _with_author(comment: str, claimed: str, actor: str) -> str:
    """The client's `createdBy` kept as its word, in the comment, when it is not the caller."""
    claimed = claimed.strip()
    note = f"[createdBy from the client: {claimed}]"
    if not claimed or claimed == actor or comment.endswith(note):
        return comment
    return f"{comment} {note}" if comment else note


class SilenceService:
    """Silences, windows and the intake gate, each change in one transaction."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        inhibit_rules: Sequence[InhibitRule] = DEFAULT_INHIBIT_RULES,
        max_duration: timedelta = DEFAULT_MAX_DURATION,
        known_systems: Sequence[str] = (),
        tell_security: bool = True,
        on_leak: LeakHandler | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.inhibit_rules = tuple(inhibit_rules)
        self.max_duration = max_duration
        self.known_systems = tuple(known_systems)
        self.tell_security = tell_security
        # Late-bound by the runtime: the notifier lives above this layer.
        self.on_leak = on_leak

    def _now(self) -> datetime:
        return self.clock()

    # -- reads --------------------------------------------------------------------------

    def get(self, silence_id: str) -> Silence:
        with self.db.read() as conn:
            return repo.get_silence(conn, silence_id)

    def search(self, filters: Sequence[Matcher] = ()) -> list[Silence]:
        """Newest first; `filters` as Alertmanager applies them (to the equality matchers)."""
        with self.db.read() as conn:
            found = repo.list_silences(conn)
        if not filters:
            return found
        return [s for s in found if matches_all(filters, {m.name: m.value for m in s.matchers})]

    # -- writes -------------------------------------------------------------------------

    def put(self, draft: SilenceDraft, actor: str, *, admin: bool) -> Silence:
        """Create, or update by id with Alertmanager's rules: a silence whose matchers change,
        or that has expired, is replaced by a new one (the old one expires).

        `actor` (the token's name) is stored as `createdBy`; what the client wrote there is
        kept in the comment. Without `admin`, a too broad or too long silence raises
        NeedsAdmin."""
        now = self._now()
        if draft.starts_at < now:
            draft = dataclasses.replace(draft, starts_at=now)
        _validate(draft, now)
        scope = judge(
            draft.matchers,
            draft.starts_at,
            draft.ends_at,
            max_duration=self.max_duration,
            probes=random_names(),
            known_systems=self.known_systems,
        )
        if scope.needs_admin and not admin:
            raise NeedsAdmin(
                "only an admin may set this silence: " + "; ".join(scope.reasons) + "."
            )
        draft = dataclasses.replace(
            draft, created_by=actor, comment=_with_author(draft.comment, draft.created_by, actor)
        )

        # A function, so a deadlock loser (it meets intake on incident rows) runs again.
        def write(conn: Connection) -> Silence:
            current = (
                repo.get_silence(conn, draft.id, for_update=True) if draft.id is not None else None
            )
            if current is not None and current.schedule is not None and draft.schedule is None:
                raise InvalidInput(
                    f"silence {current.id} is a maintenance window; change it with"
                    " `defib silences` or in the config"
                )
            if current is not None and current.name is not None:
                raise InvalidInput(f"silence {current.id} comes from the config; change it there")
            in_place = (
                current is not None
                and current.state(now) != "expired"
                and current.matchers == draft.matchers
            )
            if current is not None and in_place:
                starts = current.starts_at if current.state(now) == "active" else draft.starts_at
                silence = dataclasses.replace(
                    current,
                    starts_at=starts,
                    ends_at=draft.ends_at,
                    comment=draft.comment,
                    created_by=draft.created_by,
                    updated_at=now,
                    schedule=draft.schedule,
                )
                repo.update_silence(conn, silence)
                self._touch(conn, silence, TimelineKind.SILENCE_UPDATED, actor, now)
                return silence
            if current is not None and current.state(now) != "expired":
                self._expire(conn, current, actor, now)
            silence = Silence(
                id=str(uuid.uuid4()),
                matchers=draft.matchers,
                starts_at=draft.starts_at,
                ends_at=draft.ends_at,
                created_by=draft.created_by,
                comment=draft.comment,
                updated_at=now,
                schedule=draft.schedule,
            )
            repo.insert_silence(conn, silence)
            self._touch(conn, silence, TimelineKind.SILENCE_ADDED, actor, now)
            return silence

        return self.db.transact(write)

    def expire(self, silence_id: str, actor: str) -> Silence:
        now = self._now()

        def write(conn: Connection) -> Silence:
            current = repo.get_silence(conn, silence_id, for_update=True)
            if current.state(now) == "expired":
                return current
            return self._expire(conn, current, actor, now)

        return self.db.transact(write)

    def _expire(self, conn: Connection, current: Silence, actor: str, now: datetime) -> Silence:
        # A pending silence never starts: both ends move to now, as Alertmanager does.
        starts = min(current.starts_at, now)
        expired = dataclasses.replace(current, starts_at=starts, ends_at=now, updated_at=now)
        repo.update_silence(conn, expired)
        self._touch(conn, current, TimelineKind.SILENCE_EXPIRED, actor, now)
        return expired

    def _touch(
        self, conn: Connection, silence: Silence, kind: TimelineKind, actor: str, now: datetime
    ) -> None:
        """Note the change in the audit log and on every open incident whose labels the
        silence matches."""
        found, _ = incident_repo.list_incidents(
            conn, incident_repo.IncidentFilter(status=tuple(OPEN_STATUSES)), limit=100_000
        )
        summary = silence.summary(now)
        touched: list[str] = []
        for incident in found:
            if any(matches_all(silence.matchers, s) for s in incident_sets(incident)):
                incident_repo.append_event(
                    conn, incident.seq, TimelineEvent(now, actor, kind, summary)
                )
                touched.append(format_incident_id(incident.seq))
        audit_repo.append(
            conn,
            audit_repo.AuditEvent(now, actor, kind, silence.id, {**summary, "incidents": touched}),
        )

    def sync_windows(self, windows: Sequence[WindowSpec], actor: str = "config") -> None:
        """Make the config's maintenance windows the stored ones (idempotent, at start)."""
        now = self._now()
        with self.db.write() as conn:
            stored = {s.name: s for s in repo.named(conn)}
            for spec in windows:
                old = stored.pop(spec.name, None)
                silence = Silence(
                    id=old.id if old is not None else str(uuid.uuid4()),
                    matchers=spec.matchers,
                    starts_at=old.starts_at if old is not None else now,
                    ends_at=_forever(),
                    created_by=actor,
                    comment=spec.comment,
                    updated_at=now,
                    schedule=spec.schedule,
                    name=spec.name,
                )
                if old is None:
                    repo.insert_silence(conn, silence)
                    self._touch(conn, silence, TimelineKind.SILENCE_ADDED, actor, now)
                elif dataclasses.replace(old, updated_at=now, ends_at=_forever()) != silence:
                    repo.update_silence(conn, silence)
                    self._touch(conn, silence, TimelineKind.SILENCE_UPDATED, actor, now)
            for gone in stored.values():
                if gone.state(now) != "expired":
                    self._expire(conn, gone, actor, now)

    # -- the gate intake and notify steps ask ---------------------------------------------

    def gate(self) -> QuietGate:
        return QuietGate(self.inhibit_rules, self.tell_security, self.on_leak)

    def audit(
        self, *, kind: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[audit_repo.AuditEvent]:
        """The audit log, newest first."""
        with self.db.read() as conn:
            return audit_repo.list_events(conn, kind=kind, before=before, limit=limit)

    def silencing(self, incident: Incident) -> list[str]:
        """Ids of the silences that cover every system of the incident now ([] if not)."""
        now = self._now()
        with self.db.read() as conn:
            active = repo.list_silences(conn, unexpired_at=now)
        return silenced_by(active, incident_sets(incident), now)


@dataclass
class QuietGate:
    """Asked, inside intake's transaction, whether a would-be new incident stays quiet.

    Silences and open incidents are read once per transaction, and only when some alert
    would open an incident (merges, the common case, never pay for it).
    """

    rules: tuple[InhibitRule, ...]
    tell_security: bool = True
    on_leak: LeakHandler | None = None
    _silences: list[Silence] | None = field(default=None, init=False)
    _leaks: list[SilencedLeak] = field(default_factory=list, init=False)
    _sources: dict[frozenset[str] | None, list[Source]] = field(default_factory=dict, init=False)

    def check(
        self,
        conn: Connection,
        alert: Alert,
        type_: str,
        severity: str,
        systems: Sequence[str],
        now: datetime,
    ) -> Quiet | None:
        sets = label_sets(alert.labels, type_, severity, systems)
        if self._silences is None:
            self._silences = repo.list_silences(conn, unexpired_at=now)
        ids = silenced_by(self._silences, sets, now)
        if ids and type_ == IncidentType.DATA_LEAK.value and self.tell_security:
            self._leak(conn, alert, severity, systems, tuple(ids), now)
            reason = f"silenced by {', '.join(ids)}; security is told"
            return Quiet(IngestAction.SILENCED, reason, silence_ids=tuple(ids), told_security=True)
        if ids:
            return Quiet(
                IngestAction.SILENCED, f"silenced by {', '.join(ids)}", silence_ids=tuple(ids)
            )
        # Most alerts are no rule's target (the default rule targets performance alerts
        # only): then no open incident is read at all.
        rules = relevant_rules(self.rules, sets)
        if not rules:
            return None
        seq = inhibited_by(rules, self._sources_of(conn, source_types(rules)), sets)
        if seq is None:
            return None
        return Quiet(
            IngestAction.INHIBITED, f"inhibited by {format_incident_id(seq)}", inhibited_by=seq
        )

    def _sources_of(self, conn: Connection, types: frozenset[str] | None) -> list[Source]:
        """Open incidents that may inhibit, read once per transaction and type set."""
        if types not in self._sources:
            wanted = tuple(IncidentType(t) for t in types if t in _TYPES) if types else ()
            if types is not None and not wanted:
                self._sources[types] = []
            else:
                flt = incident_repo.IncidentFilter(status=tuple(OPEN_STATUSES), type=wanted)
                found, _ = incident_repo.list_incidents(conn, flt, limit=100_000)
                self._sources[types] = [Source(i.seq, incident_sets(i)) for i in found]
        return self._sources[types]

    def _leak(
        self,
        conn: Connection,
        alert: Alert,
        severity: str,
        systems: Sequence[str],
        ids: tuple[str, ...],
        now: datetime,
    ) -> None:
        """Recorded with the alert (same transaction), sent once the transaction commits."""
        leak = SilencedLeak(
            now, alert.source, alert.title, severity, tuple(systems), ids, alert.dedup_key
        )
        self._leaks.append(leak)
        audit_repo.append(
            conn,
            audit_repo.AuditEvent(
                now,
                alert.source,
                "data_leak_silenced",
                alert.dedup_key or alert.title,
                {
                    "title": alert.title,
                    "severity": severity,
                    "systems": list(systems),
                    "silenced_by": list(ids),
                    "dedup_key": alert.dedup_key,
                },
            ),
        )

    def after_commit(self) -> None:
        """Tell security of the silenced data leaks of the committed transaction."""
        leaks, self._leaks = self._leaks, []
        if leaks and self.on_leak is not None:
            self.on_leak(leaks)

    def opened(self, incident: Incident) -> None:
        """An incident opened in this transaction may inhibit the next alerts of the batch."""
        for types, sources in self._sources.items():
            if types is None or incident.type.value in types:
                sources.append(Source(incident.seq, incident_sets(incident)))
