"""An export in the shape of an AI Incident Database (incidentdatabase.ai) report submission.

Field names follow the AIID's submission form and public GraphQL `Submission` type
(title, text, url, source_domain, authors, submitters, date_published, date_downloaded,
incident_date, description, deployers, developers, harmed_parties, tags, language). It
carries no personal data: the text is the postmortem's own, which holds counts only.
Review it before sharing; the AIID moderates every submission.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _tags(taxonomy: Mapping[str, Any]) -> list[str]:
    tags = []
    for fw, prefix in (("owasp_llm", "OWASP"), ("mitre_atlas", "ATLAS"), ("nist_ai_600_1", "NIST")):
        tags += [f"{prefix}:{e['id']} {e['name']}" for e in taxonomy.get(fw, [])]
    return tags


def export(
    doc: Mapping[str, Any],
    text: str,
    *,
    organisation: str,
    url: str,
    submitters: Sequence[str] = (),
) -> dict[str, Any]:
    incident = doc["incident"]
    detected = str(doc["durations"]["detected_at"])[:10]
    generated = str(doc["generated_at"])[:10]
    impact = doc.get("impact") or {}
    harmed = ["users of " + s for s in incident["affected_systems"]]
    if impact.get("users_affected"):
        harmed = [f"{impact['users_affected']} users of {', '.join(incident['affected_systems'])}"]
    return {
        "title": f"{incident['title']} ({incident['id']})",
        "description": doc["summary"],
        "text": text,
        "url": url,
        "source_domain": url.split("//", 1)[-1].split("/", 1)[0],
        "language": "en",
        "authors": [organisation],
        "submitters": list(submitters) or [organisation],
        "incident_date": detected,
        "date_published": generated,
        "date_downloaded": generated,
        "deployers": [organisation],
        "developers": [],
        "harmed_parties": harmed,
        "tags": [
            f"defib:type:{incident['type']}",
            f"defib:severity:{incident['severity']}",
            *_tags(doc.get("taxonomy", {})),
        ],
    }
