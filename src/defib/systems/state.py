"""What defib enforces on a protected system, and which model version is known-good.

Pure domain: no I/O. The store keeps one `SystemState` per system (shared by every gateway
replica through the database) and one `ModelVersion` row per (system, version).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any


class FilterKind(enum.StrEnum):
    PATTERN = "pattern"  # a regular expression over the response text
    DETECTOR = "detector"  # a detector (pii, secrets, toxicity) at or above a threshold


class FilterAction(enum.StrEnum):
    BLOCK = "block"  # refuse the response (a stream ends with a safe closing message)
    REDACT = "redact"  # replace the matching spans


DETECTORS = ("pii", "secrets", "toxicity")


class StateError(ValueError):
    """A filter or state change that cannot be applied; the message names the field."""


@dataclass(frozen=True, slots=True)
class OutputFilter:
    """One output filter. `id` is stable (the idempotency key of the step that added it)."""

    id: str
    kind: FilterKind
    action: FilterAction = FilterAction.BLOCK
    pattern: str | None = None
    detector: str | None = None
    threshold: float = 0.5
    incident_seq: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind is FilterKind.PATTERN:
            if not self.pattern:
                raise StateError("pattern: required for a pattern filter")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise StateError(f"pattern: not a regular expression ({exc})") from exc
        elif self.detector not in DETECTORS:
            raise StateError(f"detector: must be one of {', '.join(DETECTORS)}")
        if not 0.0 <= self.threshold <= 1.0:
            raise StateError("threshold: must be between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "action": self.action.value,
            "pattern": self.pattern,
            "detector": self.detector,
            "threshold": self.threshold,
            "incident_seq": self.incident_seq,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputFilter:
        try:
            return cls(
                id=str(data["id"]),
                kind=FilterKind(data["kind"]),
                action=FilterAction(data.get("action", "block")),
                pattern=data.get("pattern"),
                detector=data.get("detector"),
                threshold=float(data.get("threshold", 0.5)),
                incident_seq=data.get("incident_seq"),
                note=str(data.get("note", "")),
            )
        except KeyError as exc:
            raise StateError(f"{exc.args[0]}: required") from exc
        except ValueError as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class SystemState:
    """The enforced state of one system. `revision` grows by one with every change."""

    system: str
    disabled: bool = False
    # Which incident disabled it: verification re-enables only what its incident disabled.
    disabled_by: int | None = None
    disabled_reason: str = ""
    active_version: str | None = None
    filters: tuple[OutputFilter, ...] = ()
    revision: int = 0
    updated_at: datetime | None = None
    updated_by: str = "system"

    def disable(self, incident_seq: int | None, reason: str) -> SystemState:
        if self.disabled:
            return self  # the first disabler keeps ownership
        return replace(self, disabled=True, disabled_by=incident_seq, disabled_reason=reason)

    def enable(self, incident_seq: int | None, *, force: bool = False) -> SystemState:
        """Re-enable if `incident_seq` disabled it (or `force`); otherwise unchanged."""
        if not self.disabled:
            return self
        if not force and self.disabled_by is not None and self.disabled_by != incident_seq:
            return self
        return replace(self, disabled=False, disabled_by=None, disabled_reason="")

    def with_filters(self, added: Iterable[OutputFilter]) -> SystemState:
        by_id = {f.id: f for f in self.filters}
        for f in added:
            by_id.setdefault(f.id, f)  # re-adding the same id is a no-op (idempotent)
        return replace(self, filters=tuple(by_id.values()))

    def without_filters(self, incident_seq: int) -> SystemState:
        return replace(
            self, filters=tuple(f for f in self.filters if f.incident_seq != incident_seq)
        )

    def routed_to(self, version: str) -> SystemState:
        return replace(self, active_version=version)

    def same_as(self, other: SystemState) -> bool:
        """Equal in what is enforced (ignores revision and who/when)."""
        return (
            self.disabled,
            self.disabled_by,
            self.disabled_reason,
            self.active_version,
            self.filters,
        ) == (
            other.disabled,
            other.disabled_by,
            other.disabled_reason,
            other.active_version,
            other.filters,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "disabled": self.disabled,
            "disabled_by": self.disabled_by,
            "disabled_reason": self.disabled_reason,
            "active_version": self.active_version,
            "filters": [f.to_dict() for f in self.filters],
            "revision": self.revision,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }


class VersionStatus(enum.StrEnum):
    UNKNOWN = "unknown"
    GOOD = "good"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A version of a system's model and what is known of it."""

    system: str
    name: str
    # Position in the config's `versions` list (oldest first) or registration order.
    ordinal: int
    status: VersionStatus = VersionStatus.UNKNOWN
    marked_by: str | None = None
    marked_at: datetime | None = None
    note: str = ""
    first_served_at: datetime | None = None
    last_served_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "name": self.name,
            "ordinal": self.ordinal,
            "status": self.status.value,
            "marked_by": self.marked_by,
            "marked_at": self.marked_at.isoformat() if self.marked_at else None,
            "note": self.note,
            "first_served_at": self.first_served_at.isoformat() if self.first_served_at else None,
            "last_served_at": self.last_served_at.isoformat() if self.last_served_at else None,
        }


@dataclass(frozen=True, slots=True)
class Served:
    """A period a version was active, and whether an incident touched it."""

    version: str
    start: datetime
    end: datetime
    had_incident: bool = False


@dataclass(frozen=True, slots=True)
class KnownGood:
    version: ModelVersion
    why: str


@dataclass(frozen=True, slots=True)
class NoKnownGood:
    why: str
    candidates: Sequence[str] = field(default_factory=tuple)


def previous_known_good(
    versions: Sequence[ModelVersion],
    current: str | None,
    *,
    incident_free: Mapping[str, timedelta] | None = None,
    good_after: timedelta = timedelta(days=1),
) -> KnownGood | NoKnownGood:
    """The newest version older than `current` that is marked good, or that served at least
    `good_after` without an incident (`incident_free[name]`); never one marked bad.
    """
    ordered = sorted(versions, key=lambda v: v.ordinal)
    names = [v.name for v in ordered]
    if current is not None and current not in names:
        return NoKnownGood(f"the active version {current!r} is not a known version", names)
    cutoff = names.index(current) if current is not None else len(ordered)
    earlier = list(reversed(ordered[:cutoff]))
    if not earlier:
        return NoKnownGood(f"no version older than {current!r}", names)
    free = incident_free or {}
    for v in earlier:
        if v.status is VersionStatus.BAD:
            continue
        if v.status is VersionStatus.GOOD:
            return KnownGood(v, f"{v.name} is marked good")
        clean = free.get(v.name, timedelta(0))
        if good_after > timedelta(0) and clean >= good_after:
            hours = clean.total_seconds() / 3600
            return KnownGood(v, f"{v.name} served {hours:.1f} h without an incident")
    described = ", ".join(f"{v.name} ({v.status.value})" for v in earlier)
    return NoKnownGood(
        f"no earlier version is marked good or served {good_after} without an incident: "
        + described,
        [v.name for v in earlier],
    )


@dataclass(frozen=True, slots=True)
class Capture:
    """One completion the gateway kept (prompt and response masked unless `masked` is False)."""

    system: str
    version: str | None
    at: datetime
    request_id: str
    endpoint: str
    prompt: str
    response: str
    masked: bool
    status_code: int
    latency_ms: int
    streamed: bool = False
    blocked: bool = False
    user_id: str | None = None
    # [{"detector": "pii", "entity": "EMAIL", "count": 2}]: never the values themselves.
    findings: tuple[Mapping[str, Any], ...] = ()
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "system": self.system,
            "version": self.version,
            "at": self.at.isoformat(),
            "request_id": self.request_id,
            "user_id": self.user_id,
            "endpoint": self.endpoint,
            "prompt": self.prompt,
            "response": self.response,
            "masked": self.masked,
            "status_code": self.status_code,
            "latency_ms": self.latency_ms,
            "streamed": self.streamed,
            "blocked": self.blocked,
            "findings": [dict(f) for f in self.findings],
        }
