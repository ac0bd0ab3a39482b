"""The control service: every change to what defib enforces on a system, in one transaction.

A change (kill switch, output filters, routing, a version's mark) saves the system's state
row and, when an incident owns the change, writes a timeline event on that incident in the
same transaction, keyed by the caller's idempotency key. A repeated call with the same key
(a playbook step re-executed after a crash, a retried API request) finds its event already
stored and changes nothing. Gateway replicas poll the state table (`revision`) and pick the
change up; nothing here talks to them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from defib.clock import Clock, utcnow
from defib.events import RecordedKind, TimelineKind
from defib.model import NotFound, TimelineEvent
from defib.store import incidents as incident_repo
from defib.store import systems as repo
from defib.store.database import Database
from defib.store.evidence import timeline_key_exists
from defib.systems.state import (
    ModelVersion,
    OutputFilter,
    StateError,
    SystemState,
    VersionStatus,
)

# Timeline kinds: a state change an incident owns, and a version marked good or bad.
STATE_CHANGED = TimelineKind.SYSTEM_STATE_CHANGED
VERSION_MARKED = TimelineKind.MODEL_VERSION_MARKED


@dataclass(frozen=True, slots=True)
class Change:
    """What a control call did: the state after it, whether it changed, whether it was a
    repeat of a call already applied under the same key."""

    state: SystemState
    changed: bool
    repeated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.to_dict(), "changed": self.changed, "repeated": self.repeated}


@dataclass(frozen=True, slots=True)
class Owner:
    """Who makes a change and on whose behalf: an actor, maybe an incident, maybe a key."""

    actor: str
    incident_seq: int | None = None
    key: str | None = None


class ControlService:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    # -- reads ----------------------------------------------------------------------------

    def state(self, system: str) -> SystemState | None:
        with self.db.read() as conn:
            return repo.get_state(conn, system)

    def states(self) -> list[SystemState]:
        with self.db.read() as conn:
            return repo.all_states(conn)

    def versions(self, system: str) -> list[ModelVersion]:
        with self.db.read() as conn:
            return repo.list_versions(conn, system)

    # -- the one write path ---------------------------------------------------------------

    def _apply(
        self,
        system: str,
        change: Callable[[SystemState], SystemState],
        owner: Owner,
        what: str,
        extra: Mapping[str, Any] | None = None,
        also: Callable[[Connection, SystemState, SystemState, datetime], None] | None = None,
    ) -> Change:
        now = self.clock()

        # A function (so `also` must only write through `conn`): a deadlock loser runs again.
        def write(conn: Connection) -> Change:
            if owner.incident_seq is not None:
                # Raises NotFound before anything changes if the incident does not exist.
                incident_repo.get_incident(conn, owner.incident_seq)
                if owner.key is not None and timeline_key_exists(conn, owner.key):
                    current = repo.get_state(conn, system) or SystemState(system)
                    return Change(current, changed=False, repeated=True)
            before = repo.get_state(conn, system, for_update=True) or SystemState(system)
            after = change(before)
            changed = not after.same_as(before)
            saved = repo.save_state(conn, after, owner.actor, now) if changed else before
            if also is not None:
                also(conn, before, saved, now)
            if owner.incident_seq is not None:
                incident_repo.append_event(
                    conn,
                    owner.incident_seq,
                    TimelineEvent(
                        now,
                        owner.actor,
                        STATE_CHANGED,
                        {
                            "system": system,
                            "change": what,
                            "changed": changed,
                            "revision": saved.revision,
                            "disabled": saved.disabled,
                            "disabled_by": saved.disabled_by,
                            "active_version": saved.active_version,
                            "filters": len(saved.filters),
                            **(extra or {}),
                        },
                    ),
                    idempotency_key=owner.key,
                )
            return Change(saved, changed)

        return self.db.transact(write)

    # -- changes --------------------------------------------------------------------------

    def disable(self, system: str, owner: Owner, reason: str = "") -> Change:
        """Turn the kill switch on; the first disabler (incident) keeps ownership."""
        return self._apply(
            system,
            lambda s: s.disable(owner.incident_seq, reason),
            owner,
            "disable",
            {"reason": reason},
        )

    def enable(self, system: str, owner: Owner, *, force: bool = False) -> Change:
        """Turn the kill switch off if this owner's incident turned it on (or `force`)."""
        return self._apply(
            system,
            lambda s: s.enable(owner.incident_seq, force=force),
            owner,
            "enable",
            {"force": force},
        )

    def add_filters(self, system: str, filters: Iterable[OutputFilter], owner: Owner) -> Change:
        added = list(filters)
        return self._apply(
            system,
            lambda s: s.with_filters(added),
            owner,
            "add_filters",
            {"added": [f.to_dict() for f in added]},
        )

    def remove_filters(self, system: str, incident_seq: int, owner: Owner) -> Change:
        """Remove every filter the incident `incident_seq` added."""
        return self._apply(
            system,
            lambda s: s.without_filters(incident_seq),
            owner,
            "remove_filters",
            {"of_incident": incident_seq},
        )

    def replace_filters(self, system: str, filters: Iterable[OutputFilter], owner: Owner) -> Change:
        wanted = tuple(filters)

        def change(s: SystemState) -> SystemState:
            return replace(s, filters=()).with_filters(wanted)

        return self._apply(system, change, owner, "replace_filters", {"filters": len(wanted)})

    def route(
        self, system: str, version: str, owner: Owner, *, mark_bad: str | None = None
    ) -> Change:
        """Serve `version`; optionally mark the version routed away from as bad, atomically."""
        with self.db.read() as conn:
            if repo.get_version(conn, system, version) is None:
                known = ", ".join(v.name for v in repo.list_versions(conn, system)) or "none"
                raise StateError(f"version: {version!r} is not a version of {system} ({known})")

        def also(conn: Connection, before: SystemState, _: SystemState, now: datetime) -> None:
            # Close the old version's service period: rollback_model reads these periods
            # to tell how long each version served without an incident.
            if before.active_version is not None and before.active_version != version:
                repo.note_served(conn, system, before.active_version, now)
            repo.note_served(conn, system, version, now)
            if mark_bad is not None and mark_bad != version:
                who = f"INC-{owner.incident_seq}" if owner.incident_seq else owner.actor
                repo.mark_version(
                    conn,
                    system,
                    mark_bad,
                    VersionStatus.BAD,
                    owner.actor,
                    f"rolled back from by {who}",
                    now,
                )

        return self._apply(
            system,
            lambda s: s.routed_to(version),
            owner,
            "route",
            {"to_version": version, "marked_bad": mark_bad},
            also,
        )

    def put(
        self,
        system: str,
        owner: Owner,
        *,
        disabled: bool | None = None,
        reason: str = "",
        force: bool = False,
        active_version: str | None = None,
        filters: Iterable[OutputFilter] | None = None,
        clear_filters_of: int | None = None,
    ) -> Change:
        """Several changes a person asks for at once (the API's PUT), in one transaction.

        `disabled=False` lifts only the owner incident's kill switch unless `force` (a
        person without an incident always forces: they act for themselves).
        """
        wanted = tuple(filters) if filters is not None else None
        if active_version is not None:
            with self.db.read() as conn:
                if repo.get_version(conn, system, active_version) is None:
                    known = ", ".join(v.name for v in repo.list_versions(conn, system)) or "none"
                    raise StateError(
                        f"active_version: {active_version!r} is not a version of {system}"
                        f" (known: {known})"
                    )

        def change(s: SystemState) -> SystemState:
            if disabled is True:
                s = s.disable(owner.incident_seq, reason)
            elif disabled is False:
                s = s.enable(owner.incident_seq, force=force or owner.incident_seq is None)
            if clear_filters_of is not None:
                s = s.without_filters(clear_filters_of)
            if wanted is not None:
                s = replace(s, filters=()).with_filters(wanted)
            if active_version is not None:
                s = s.routed_to(active_version)
            return s

        def also(conn: Connection, before: SystemState, after: SystemState, now: datetime) -> None:
            if active_version is not None and before.active_version != active_version:
                if before.active_version is not None:
                    repo.note_served(conn, system, before.active_version, now)
                repo.note_served(conn, system, active_version, now)

        asked = {
            "disabled": disabled,
            "active_version": active_version,
            "filters": None if wanted is None else len(wanted),
            "clear_filters_of": clear_filters_of,
        }
        return self._apply(
            system,
            change,
            owner,
            "put",
            {"asked": {k: v for k, v in asked.items() if v is not None}, "reason": reason},
            also,
        )

    def register_versions(self, system: str, names: Iterable[str]) -> None:
        wanted = list(names)
        self.db.transact(lambda conn: repo.ensure_versions(conn, system, wanted))

    def mark_version(
        self, system: str, version: str, status: VersionStatus, owner: Owner, note: str = ""
    ) -> ModelVersion:
        now = self.clock()

        def write(conn: Connection) -> ModelVersion:
            if owner.incident_seq is not None:
                incident_repo.get_incident(conn, owner.incident_seq)
                if owner.key is not None and timeline_key_exists(conn, owner.key):
                    found = repo.get_version(conn, system, version)
                    if found is None:
                        raise NotFound(f"no version {version!r} of system {system!r}")
                    return found
            marked = repo.mark_version(conn, system, version, status, owner.actor, note, now)
            if marked is None:
                raise NotFound(f"no version {version!r} of system {system!r}")
            if owner.incident_seq is not None:
                incident_repo.append_event(
                    conn,
                    owner.incident_seq,
                    TimelineEvent(
                        now,
                        owner.actor,
                        VERSION_MARKED,
                        {
                            "system": system,
                            "version": version,
                            "status": status.value,
                            "note": note,
                        },
                    ),
                    idempotency_key=owner.key,
                )
            return marked

        return self.db.transact(write)

    def plan_once(
        self, incident_seq: int, key: str, kind: RecordedKind, data: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        """Record a decision on the timeline once and return the one stored first.

        `kind` may be a plugin's own (actions reach this service through their environment).

        A step that decides something from the world's current state (which version to roll
        back to) records the decision before acting on it; re-executed after a crash, it
        gets its first decision back instead of deciding again from a world it has changed.
        """
        planned = TimelineEvent(self.clock(), actor, kind, dict(data))
        event = self.db.transact(
            lambda conn: incident_repo.append_event(
                conn, incident_seq, planned, idempotency_key=key
            )
        )
        return dict(event.data)
