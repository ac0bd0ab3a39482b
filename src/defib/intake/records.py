"""Pure: what folding alerts into incidents writes, computed without I/O.

A run of alerts merged into an incident (`merge`), what every alert of an incident clearing
does to it (`cleared`), the timeline data an alert leaves (`alert_info`, `triage_info`,
`storm_event`), each alert's stored row (`alert_row`) and its answer (`answer`, `folded`).
`intake.folding.AlertFolding` reads and writes the database around these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from defib.events import IngestAction, TimelineKind
from defib.intake.results import IngestResult, Triage
from defib.intake.storm import MAX_LISTED_SYSTEMS, StormSummary
from defib.model import (
    Alert,
    Command,
    Incident,
    IncidentType,
    Status,
    TimelineEvent,
    raise_severity,
    unique_systems,
)

# Incident types whose source reporting every alert resolved proves the failure gone.
SOURCE_VERIFIED = frozenset({IncidentType.PERFORMANCE, IncidentType.AVAILABILITY})


@dataclass(frozen=True, slots=True)
class Item:
    """One alert of a group commit, with where its answer goes."""

    batch: int
    index: int
    alert: Alert
    triage: Triage
    actor: str


def cleared(incident: Incident) -> tuple[Command, str, IngestAction, str] | None:
    """What every alert of `incident` clearing does to it: (command, note, answer, reason).

    A mitigated incident resolves. For latency and reachability the source's resolve is the
    evidence that the failure is gone, so such an incident not yet mitigated is mitigated;
    a content incident waits for its samples to be replayed or a person (None).
    """
    if incident.status is Status.MITIGATED:
        note = "every alert cleared after mitigation"
        return Command.RESOLVE, note, IngestAction.RESOLVED, "all alerts cleared"
    if incident.type in SOURCE_VERIFIED and incident.status.order < Status.MITIGATED.order:
        note = "verified by the source: every alert of the incident resolved"
        reason = "all alerts cleared: mitigated on the source's word"
        return Command.MITIGATE, note, IngestAction.CLEARED, reason
    return None


def run_end(fresh: Sequence[Item], start: int) -> int:
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


def answer(
    run: Sequence[Item],
    action: IngestAction,
    incident: Incident,
    done: Callable[[Item, IngestResult, int | None], None],
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


def folded(storm: Incident, reason: str) -> IngestResult:
    return IngestResult(
        IngestAction.FOLDED,
        storm.id,
        storm.type,
        storm.severity,
        f"alert storm: folded into the sender's storm incident ({reason})",
    )


def storm_event(
    now: datetime, actor: str, add: StormSummary, labels: Mapping[str, str]
) -> TimelineEvent:
    return TimelineEvent(
        now,
        actor,
        TimelineKind.STORM_FOLDED,
        {
            "count": add.alerts,
            "types": dict(add.types),
            "systems": list(add.systems[:MAX_LISTED_SYSTEMS]),
            "system_count": len(add.systems),
            "storm_alerts": int(labels["storm_alerts"]),
        },
    )


def latest(incident: Incident) -> datetime:
    return max(t for _, t in incident.stamps() if t is not None)


def merge(incident: Incident, run: Sequence[Item], now: datetime) -> Incident:
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


def alert_info(item: Item) -> dict[str, Any]:
    return {
        "title": item.alert.title,
        "source": item.alert.source,
        "format": item.alert.format,
        "reason": item.triage.reason,
        "severity": item.triage.severity.value if item.triage.severity else None,
    }


def triage_info(triage: Triage) -> dict[str, Any]:
    """For an incident opened on a best guess: the flag and the severity each type would
    get for its alert (what a retype applies)."""
    if not triage.needs_triage:
        return {}
    return {
        "needs_triage": True,
        "severity_by_type": {t.value: s.value for t, s in triage.severity_by_type},
    }


def with_data(event: TimelineEvent, **extra: Any) -> TimelineEvent:
    return dataclasses.replace(event, data={**event.data, **extra})


def alert_row(
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
