"""Pure domain types: incident types, severities, alerts, incidents and their lifecycle.

Nothing here does I/O. The state machine is a function from (incident, command, time) to a
new incident plus the timeline event that records the change, so storage, the API and the
CLI all share one definition of what is legal.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from defib.events import TimelineKind


class IncidentType(enum.StrEnum):
    """The kinds of AI incident defib recognises."""

    HALLUCINATION = "hallucination"
    TOXICITY = "toxicity"
    DATA_LEAK = "data_leak"
    PERFORMANCE = "performance"
    AVAILABILITY = "availability"
    BIAS = "bias"


_SEVERITY_RANK = {"SEV1": 1, "SEV2": 2, "SEV3": 3, "SEV4": 4}


class Severity(enum.StrEnum):
    """SEV1 is the most severe; comparisons follow severity, so SEV1 > SEV4."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """1 for SEV1 (critical) .. 4 for SEV4 (low)."""
        return _SEVERITY_RANK[self.value]

    @property
    def description(self) -> str:
        return _SEVERITY_TEXT[self]

    # str's own ordering would make "SEV1" < "SEV2"; severity order is the reverse.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __hash__(self) -> int:
        return hash(self.value)


_SEVERITY_TEXT = {
    Severity.SEV1: "critical: system down, data exposed or corrupted",
    Severity.SEV2: "high: major feature unavailable or harmful output reaching users",
    Severity.SEV3: "medium: degraded",
    Severity.SEV4: "low: minor",
}


class Status(enum.StrEnum):
    """Lifecycle states, in their forward order."""

    DETECTED = "detected"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def order(self) -> int:
        return _STATUS_ORDER[self]

    @property
    def is_open(self) -> bool:
        """Open incidents absorb matching alerts; resolved and closed ones do not."""
        return self in OPEN_STATUSES


_STATUS_ORDER = {s: i for i, s in enumerate(Status)}
OPEN_STATUSES = frozenset({Status.DETECTED, Status.ACKNOWLEDGED, Status.MITIGATED})

# The time field each status stamps when it is entered.
STAMP_FIELD: Mapping[Status, str] = {
    Status.DETECTED: "detected_at",
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}


class Command(enum.StrEnum):
    """What a person (or playbook) can ask of an incident's lifecycle."""

    ACKNOWLEDGE = "acknowledge"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


COMMAND_TARGET: Mapping[Command, Status] = {
    Command.ACKNOWLEDGE: Status.ACKNOWLEDGED,
    Command.MITIGATE: Status.MITIGATED,
    Command.RESOLVE: Status.RESOLVED,
    Command.CLOSE: Status.CLOSED,
    Command.REOPEN: Status.DETECTED,
}


class DomainError(Exception):
    """Base of errors that mean the request was understood but cannot be honoured."""

    code = "domain_error"


class IllegalTransition(DomainError):
    """The lifecycle does not allow this command from the incident's current status."""

    code = "illegal_transition"


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


@dataclass(frozen=True, slots=True)
class Sample:
    """One captured exchange attached to an alert (what the model was asked and said)."""

    prompt: str = ""
    response: str = ""
    user_id: str | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One normalised alert, whatever format it arrived in.

    `severity` is the source's own word (``critical``, ``warning``, ``error``...), kept raw;
    the severity policy maps it. `identity` is what makes two deliveries "the same alert"
    for correlation (alertname, dedup_key or normalised title); `delivery_key` tells a
    re-delivery of the very same firing (same source fingerprint and start time) apart from a
    new firing; `source_key` names the series at the source (Alertmanager label set,
    PagerDuty dedup_key) so that its later `resolved` can be matched to it.
    """

    source: str
    title: str
    description: str = ""
    format: str = "native"
    status: str = "firing"
    severity: str | None = None
    systems: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    identity: str = ""
    delivery_key: str | None = None
    source_key: str | None = None
    dedup_key: str | None = None
    signal: str | None = None
    value: float | None = None
    threshold: float | None = None
    occurred_at: datetime | None = None
    explicit_type: IncidentType | None = None
    samples: tuple[Sample, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def series(self) -> str:
        """The source series this alert belongs to (for clearing), never empty."""
        return self.source_key or self.dedup_key or self.identity or self.title


@dataclass(frozen=True, slots=True)
class Incident:
    """The incident record. `seq` is the storage key; `id` (INC-<seq>) is what people see."""

    seq: int
    type: IncidentType
    severity: Severity
    title: str
    status: Status
    detected_at: datetime
    description: str = ""
    affected_systems: tuple[str, ...] = ()
    fingerprint: str | None = None
    alert_count: int = 0
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    commander: str | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    reopen_count: int = 0
    created_by: str = "system"
    # Opened on the classifier's best guess: a person should confirm or retype it.
    needs_triage: bool = False

    @property
    def id(self) -> str:
        return format_incident_id(self.seq)

    def stamps(self) -> list[tuple[str, datetime | None]]:
        """Lifecycle times in their required order."""
        return [(STAMP_FIELD[s], getattr(self, STAMP_FIELD[s])) for s in Status]


# The largest id either database stores (a signed 64-bit integer): a larger number in a
# request is refused before it reaches SQL, where it overflowed into a 500.
MAX_ID = 2**63 - 1


def format_incident_id(seq: int) -> str:
    return f"INC-{seq}"


def parse_incident_id(text: str) -> int:
    """Accept `INC-42`, `inc-42` or `42`; raise NotFound for anything else."""
    raw = text.strip()
    if raw.upper().startswith("INC-"):
        raw = raw[4:]
    # isascii: str.isdigit() also accepts "²" and other digits int() refuses.
    if not (raw.isascii() and raw.isdigit()) or raw.startswith("0") or len(raw) > 18:
        raise NotFound(f"no incident {text!r}: ids look like INC-42")
    return int(raw)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """An append-only entry on an incident's timeline."""

    at: datetime
    actor: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    incident_seq: int | None = None
    id: int | None = None


def transition(
    incident: Incident, command: Command, at: datetime, actor: str, note: str | None = None
) -> tuple[Incident, TimelineEvent]:
    """Apply a lifecycle command; raise IllegalTransition and change nothing if not allowed.

    Forward moves may skip states (detected -> resolved). Entering a state stamps its time,
    never overwriting one already set. Reopen takes a resolved incident back to detected and
    clears the later stamps, so the next episode is timed afresh; the earlier times stay on
    the timeline. Times never go backwards: a command dated before the last stamp is refused.
    """
    current = incident.status
    target = COMMAND_TARGET[command]
    if command is Command.REOPEN:
        if current is not Status.RESOLVED:
            raise IllegalTransition(
                f"{incident.id} is {current.value}; only a resolved incident can be reopened"
            )
    elif target.order <= current.order:
        raise IllegalTransition(
            f"cannot {command.value} {incident.id}: it is already {current.value}"
        )
    latest = max(t for _, t in incident.stamps() if t is not None)
    if incident.reopened_at is not None:
        latest = max(latest, incident.reopened_at)
    if at < latest:
        raise IllegalTransition(
            f"cannot {command.value} {incident.id} at {at.isoformat()}: "
            f"before its last change at {latest.isoformat()}"
        )
    changes: dict[str, Any] = {"status": target}
    if command is Command.REOPEN:
        for s in (Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED):
            changes[STAMP_FIELD[s]] = None
        changes["reopened_at"] = at
        changes["reopen_count"] = incident.reopen_count + 1
    else:
        changes[STAMP_FIELD[target]] = at
    updated = dataclasses.replace(incident, **changes)
    data: dict[str, Any] = {"from": current.value, "to": target.value, "command": command.value}
    if note:
        data["note"] = note
    return updated, TimelineEvent(at=at, actor=actor, kind=TimelineKind.TRANSITION, data=data)


def allowed_commands(status: Status) -> list[Command]:
    """Commands the lifecycle accepts from `status` (for UIs and error messages)."""
    if status is Status.RESOLVED:
        return [Command.CLOSE, Command.REOPEN]
    return [
        c for c, t in COMMAND_TARGET.items() if c is not Command.REOPEN and t.order > status.order
    ]


def raise_severity(current: Severity, proposed: Severity) -> Severity:
    """Automatic changes only ever raise severity; lowering is a human act."""
    return max(current, proposed)


def unique_systems(systems: Sequence[str]) -> tuple[str, ...]:
    """Deduplicate system names keeping first-seen order, dropping blanks."""
    seen: dict[str, None] = {}
    for s in systems:
        name = s.strip()
        if name and name not in seen:
            seen[name] = None
    return tuple(seen)
