"""Pure: helpers for the console's pages: durations, alert titles, the list's cursor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from defib.events import TimelineKind
from defib.model import OPEN_STATUSES, Command, Incident, InvalidInput, Status, allowed_commands

# The labels of the lifecycle buttons, in the order the page shows them.
COMMAND_LABELS: dict[Command, str] = {
    Command.ACKNOWLEDGE: "Acknowledge",
    Command.MITIGATE: "Mitigate",
    Command.RESOLVE: "Resolve",
    Command.CLOSE: "Close",
    Command.REOPEN: "Reopen",
}


def legal_commands(status: Status) -> list[tuple[Command, str]]:
    """The lifecycle buttons an incident in `status` offers (only legal moves)."""
    allowed = set(allowed_commands(status))
    return [(c, label) for c, label in COMMAND_LABELS.items() if c in allowed]


def human_duration(seconds: float) -> str:
    """`45s`, `12m`, `3h 05m`, `2d 4h`: short enough for a table cell."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    minutes, _ = divmod(s, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def between(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None:
        return None
    return human_duration((end - start).total_seconds())


@dataclass(frozen=True, slots=True)
class Durations:
    """How long the incident has taken so far (None for a stage not reached)."""

    open_for: str
    to_acknowledge: str | None
    to_mitigate: str | None
    to_resolve: str | None


def durations(incident: Incident, now: datetime) -> Durations:
    start = incident.detected_at
    end = incident.resolved_at if incident.status not in OPEN_STATUSES else now
    return Durations(
        open_for=human_duration(((end or now) - start).total_seconds()),
        to_acknowledge=between(start, incident.acknowledged_at),
        to_mitigate=between(start, incident.mitigated_at),
        to_resolve=between(start, incident.resolved_at),
    )


def alert_title(payload: Mapping[str, Any]) -> str:
    """A one-line name for a stored alert, whatever format it came in."""
    labels = payload.get("labels")
    annotations = payload.get("annotations")
    inner = payload.get("payload")
    candidates = [
        payload.get("title"),
        payload.get("summary"),
        inner.get("summary") if isinstance(inner, Mapping) else None,
        annotations.get("summary") if isinstance(annotations, Mapping) else None,
        labels.get("alertname") if isinstance(labels, Mapping) else None,
        payload.get("alertname"),
    ]
    for c in candidates:
        if isinstance(c, str) and c.strip():
            return c.strip()[:200]
    return "(untitled)"


# The incident list shows open incidents first (newest first), then the others (newest
# first). Its cursor says which of the two phases the next page continues and where.
@dataclass(frozen=True, slots=True)
class ListCursor:
    phase: str  # "open" or "rest"
    inner: str | None  # the repository's cursor within that phase (None = from its start)

    def encode(self) -> str:
        raw = f"{self.phase}:{self.inner or ''}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> ListCursor:
        if not text:
            return cls("open", None)
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput("cursor: not a cursor this console handed out") from exc
        phase, _, inner = raw.partition(":")
        if phase not in ("open", "rest"):
            raise InvalidInput("cursor: not a cursor this console handed out")
        return cls(phase, inner or None)


def split_statuses(selected: Sequence[Status]) -> tuple[list[Status], list[Status]]:
    """The chosen statuses (all when none is chosen), split into open and the rest."""
    chosen = list(selected) or list(Status)
    ordered = sorted(set(chosen), key=lambda s: s.order)
    return [s for s in ordered if s in OPEN_STATUSES], [
        s for s in ordered if s not in OPEN_STATUSES
    ]


_SUMMARY_KEYS = ("step", "status", "system", "message", "reason", "error", "asks", "note")


def describe_event(kind: str, data: Mapping[str, Any]) -> str:
    """One readable line for a timeline event; unknown kinds show their main fields."""
    if kind == TimelineKind.TRANSITION:
        text = f"{data.get('from')} → {data.get('to')}"
        return f"{text}: {data['note']}" if data.get("note") else text
    if kind == TimelineKind.NOTE:
        return str(data.get("text", ""))
    if kind in (
        TimelineKind.SEVERITY_CHANGED,
        TimelineKind.COMMANDER_CHANGED,
        TimelineKind.TITLE_CHANGED,
    ):
        return f"{data.get('from') or '(none)'} → {data.get('to') or '(none)'}"
    if kind == TimelineKind.CREATED:
        how = data.get("how", "opened")
        return f"{how}: {data.get('type', '')} {data.get('severity', '')} {data.get('title', '')}"
    parts = [f"{k}: {data[k]}" for k in _SUMMARY_KEYS if data.get(k) not in (None, "", [], {})]
    if parts:
        return "; ".join(parts)[:500]
    compact = ", ".join(f"{k}={v}" for k, v in data.items())
    return compact[:300]


# Where an alert's payload names the page that raised it, by format (Alertmanager and
# Prometheus: generatorURL; Grafana: dashboardURL/panelURL; native and others: url/link).
_LINK_KEYS = ("generatorURL", "dashboardURL", "panelURL", "url", "link", "source_url")
_SUMMARY_ANNOTATIONS = ("summary", "message", "description")


@dataclass(frozen=True, slots=True)
class AlertDetails:
    """What a responder wants from one stored alert: its words, labels and where it came from."""

    title: str
    summary: str
    labels: dict[str, str]
    annotations: dict[str, str]
    links: list[str]


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v not in (None, "")}


def safe_link(value: Any) -> str | None:
    """`value` when it is an http(s) URL; None for anything a browser would run or misread
    (`javascript:`, `data:`, relative paths)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text.lower().startswith(("https://", "http://")) else None


def alert_details(payload: Mapping[str, Any]) -> AlertDetails:
    """The details of a stored alert payload, whatever format it came in."""
    labels = _str_map(payload.get("labels"))
    annotations = _str_map(payload.get("annotations"))
    summary = next((annotations[k] for k in _SUMMARY_ANNOTATIONS if annotations.get(k)), "")
    if not summary:
        inner = payload.get("payload")
        candidates = [payload.get("description"), payload.get("summary")]
        if isinstance(inner, Mapping):
            candidates.append(inner.get("summary"))
        summary = next((str(c) for c in candidates if isinstance(c, str) and c.strip()), "")
    links: list[str] = []
    for key in _LINK_KEYS:
        link = safe_link(payload.get(key))
        if link and link not in links:
            links.append(link)
    for item in payload.get("links") or []:
        link = safe_link(item.get("href") if isinstance(item, Mapping) else item)
        if link and link not in links:
            links.append(link)
    return AlertDetails(alert_title(payload), summary[:2000], labels, annotations, links)


# The incident list's "waiting for you" marker, by why the incident waits.
WAITING_LABELS = {
    "unacknowledged": "waiting for you: acknowledge",
    "approval": "waiting for you: approval",
    "needs_attention": "waiting for you: needs attention",
    "failed": "waiting for you: playbook failed",
    "triage": "waiting for you: triage",
}
