"""The review use cases: an incident's taxonomy mapping and its postmortem review fields.

Both are edited by responders through the API and the CLI; every edit lands on the
timeline (`taxonomy_changed`, `review_updated`) in the same transaction as the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from defib.events import ALERT_EVIDENCE_KINDS, TimelineKind, is_reopen
from defib.model import Incident, InvalidInput, TimelineEvent, parse_incident_id
from defib.store import incidents as repo
from defib.store import review as review_repo
from defib.store.database import Database
from defib.taxonomy import TaxonomyMapping, edited, from_stored, map_incident, to_stored
from defib.timefmt import rfc3339

# Timeline kinds whose data counts as evidence for the taxonomy's refinements (and reopens,
# which carry the alert that reopened the incident: see `is_reopen`).
EVIDENCE_KINDS = frozenset({*ALERT_EVIDENCE_KINDS, TimelineKind.NOTE})
REVIEW_LISTS = ("contributing_factors", "lessons")


def evidence_text(incident: Incident, events: Sequence[TimelineEvent]) -> list[str]:
    """The words the taxonomy refinements look at: title, description, labels, alerts."""
    texts = [incident.title, incident.description, *incident.labels.values()]
    texts += [
        json.dumps(e.data, default=str)
        for e in events
        if e.kind in EVIDENCE_KINDS or is_reopen(e.kind, e.data)
    ]
    return texts


def clean_review(current: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a partial change to the review fields (pure); raises InvalidInput."""
    out: dict[str, Any] = {
        "summary": current.get("summary", ""),
        "contributing_factors": list(current.get("contributing_factors", [])),
        "lessons": list(current.get("lessons", [])),
        "action_items": list(current.get("action_items", [])),
    }
    for key, value in change.items():
        if value is None:
            continue
        if key == "summary":
            out["summary"] = str(value).strip()
        elif key in REVIEW_LISTS:
            out[key] = [str(v).strip() for v in value if str(v).strip()]
        elif key == "action_items":
            items = []
            for i, item in enumerate(value):
                text = str(item.get("text", "")).strip()
                if not text:
                    raise InvalidInput(f"action_items[{i}].text: must not be empty")
                items.append(
                    {"text": text, "owner": item.get("owner"), "done": bool(item.get("done"))}
                )
            out["action_items"] = items
        else:
            raise InvalidInput(f"{key}: not a review field")
    return out


class ReviewService:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def taxonomy(self, incident_id: str) -> TaxonomyMapping:
        seq = parse_incident_id(incident_id)
        with self.db.read() as conn:
            incident = repo.get_incident(conn, seq)
            stored = review_repo.get(conn, seq, "taxonomy")
            if stored is not None:
                return from_stored(stored)
            events = repo.list_events(conn, seq, limit=500)
        return map_incident(incident.type.value, evidence_text(incident, events))

    def set_taxonomy(
        self, incident_id: str, ids: Mapping[str, Sequence[str]], actor: str
    ) -> TaxonomyMapping:
        seq = parse_incident_id(incident_id)
        now = self.clock()
        try:
            mapping = edited(ids, actor, rfc3339(now))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc

        # Functions, so a deadlock loser (the incident row meets intake) runs again.
        def write(conn: Connection) -> None:
            repo.get_incident(conn, seq, for_update=True)
            review_repo.put(conn, seq, "taxonomy", to_stored(mapping))
            repo.append_event(
                conn,
                seq,
                TimelineEvent(
                    now,
                    actor,
                    TimelineKind.TAXONOMY_CHANGED,
                    {k: list(v) for k, v in mapping.ids.items()},
                ),
            )

        self.db.transact(write)
        return mapping

    def review(self, incident_id: str) -> dict[str, Any]:
        seq = parse_incident_id(incident_id)
        with self.db.read() as conn:
            stored = review_repo.get(conn, seq, "review") or {}
        return {**clean_review(stored, {}), **_meta(stored)}

    def update_review(
        self, incident_id: str, change: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        seq = parse_incident_id(incident_id)
        now = self.clock()

        def write(conn: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
            repo.get_incident(conn, seq, for_update=True)
            current = review_repo.get(conn, seq, "review") or {}
            updated = clean_review(current, change)
            stored = {**updated, "updated_by": actor, "updated_at": rfc3339(now)}
            review_repo.put(conn, seq, "review", stored)
            changed = sorted(k for k, v in change.items() if v is not None)
            repo.append_event(
                conn,
                seq,
                TimelineEvent(now, actor, TimelineKind.REVIEW_UPDATED, {"fields": changed}),
            )
            return updated, stored

        updated, stored = self.db.transact(write)
        return {**updated, **_meta(stored)}


def _meta(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {"updated_by": stored.get("updated_by"), "updated_at": stored.get("updated_at")}
