"""Pure: defib's stored alerts as Alertmanager's gettableAlerts, and its query's filters.

`amtool alert query` and Alertmanager's UI read `GET /api/v2/alerts`: each alert's labels
(its own, plus defib's `type`, `severity`, `system` and `incident`, which win over a label
of the same name, as in silences), its state (`active`, or `suppressed` by a silence or an
inhibiting incident) and the filters `filter` (matchers on the labels, all must match),
`active`, `silenced`, `inhibited`, `unprocessed` and `receiver` (a regex on `defib`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from defib.events import IngestAction
from defib.model import format_incident_id
from defib.silences import Matcher, Silence
from defib.silences.matchers import matches_all

RECEIVER = "defib"
# Alertmanager resolves an alert nobody re-sent after its resolve_timeout (5 minutes); a
# held alert's `endsAt` is that far ahead, as for an alert that gave no end of its own.
RESOLVE_TIMEOUT = timedelta(minutes=5)
_LINK_KEYS = ("generatorURL", "generator_url", "url")


@dataclass(frozen=True, slots=True)
class Listed:
    """One alert as Alertmanager lists it."""

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    updated_at: datetime
    generator_url: str | None
    state: str  # "active" or "suppressed"
    silenced_by: list[str] = field(default_factory=list)
    inhibited_by: list[str] = field(default_factory=list)


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def labels_of(row: Mapping[str, Any]) -> dict[str, str]:
    """The alert's own labels with defib's derived ones over them."""
    payload = row.get("payload") or {}
    labels = _str_map(payload.get("labels"))
    if "alertname" not in labels:
        title = payload.get("title") or payload.get("summary") or payload.get("alertname")
        labels["alertname"] = str(title or row.get("source") or "alert")[:200]
    systems = list(row.get("affected_systems") or payload.get("systems") or [])
    if row.get("type"):
        labels["type"] = str(row["type"])
    if row.get("severity"):
        labels["severity"] = str(row["severity"])
    if systems:
        labels["system"] = str(systems[0])
    if row.get("incident_seq") is not None:
        labels["incident"] = format_incident_id(int(row["incident_seq"]))
    return labels


def annotations_of(payload: Mapping[str, Any]) -> dict[str, str]:
    annotations = _str_map(payload.get("annotations"))
    for key in ("summary", "description"):
        if key not in annotations:
            value = payload.get(key if key == "description" else "title")
            if isinstance(value, str) and value:
                annotations[key] = value
    return annotations


def _fingerprint(labels: Mapping[str, str]) -> str:
    import hashlib

    text = "\x00".join(f"{k}\x00{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def listed(
    rows: Iterable[Mapping[str, Any]], silences: Sequence[Silence], now: datetime
) -> list[Listed]:
    """One entry per label set (the newest row wins), with its state now."""
    by_fingerprint: dict[str, Listed] = {}
    for row in rows:
        payload = row.get("payload") or {}
        labels = labels_of(row)
        fingerprint = _fingerprint(labels)
        first = by_fingerprint.get(fingerprint)
        silenced = [s.id for s in silences if s.silences(labels, now)]
        inhibited = (
            [str(row.get("source") or "an open incident")]
            if row.get("action") == IngestAction.INHIBITED
            else []
        )
        link = next((payload.get(k) for k in _LINK_KEYS if isinstance(payload.get(k), str)), None)
        by_fingerprint[fingerprint] = Listed(
            fingerprint=fingerprint,
            labels=labels,
            annotations=annotations_of(payload),
            starts_at=first.starts_at if first else row["received_at"],
            updated_at=row["received_at"],
            generator_url=link,
            state="suppressed" if silenced or inhibited else "active",
            silenced_by=silenced,
            inhibited_by=inhibited,
        )
    return list(by_fingerprint.values())


@dataclass(frozen=True, slots=True)
class Query:
    """Alertmanager's query parameters for `GET /api/v2/alerts`."""

    filters: tuple[Matcher, ...] = ()
    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    unprocessed: bool = True
    receiver: str | None = None

    def keeps(self, alert: Listed) -> bool:
        if self.receiver and not re.fullmatch(self.receiver, RECEIVER):
            return False
        if alert.state == "active" and not self.active:
            return False
        if alert.silenced_by and not self.silenced:
            return False
        if alert.inhibited_by and not self.inhibited:
            return False
        return matches_all(self.filters, alert.labels)
