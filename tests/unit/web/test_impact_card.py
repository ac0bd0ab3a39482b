"""The console's Data impact card says who is affected and why: the identifier types of
theirs found in leaked records (issue 25), never a value and never a requester's id."""

from __future__ import annotations

from defib.auth import Role
from defib.bootstrap import Runtime
from defib.incidents.lifecycle import IncidentDraft
from defib.model import IncidentType, Severity
from defib.store import impact as impact_repo
from tests.support.web import SignIn


def test_the_impact_card_lists_each_person_with_what_matched(
    runtime: Runtime, sign_in: SignIn
) -> None:
    """Each person with the identifier types found and in how many records."""
    draft = IncidentDraft(
        type=IncidentType.DATA_LEAK, severity=Severity.SEV1, title="leak", affected_systems=()
    )
    incident = runtime.incidents.declare(draft, "tester")
    subjects = [
        {"user_id": "u-17", "matched_by": ["EMAIL", "PHONE"], "records": 2, "record_refs": []},
        {"user_id": "u-18", "matched_by": ["PERSON"], "records": 1, "record_refs": []},
    ]
    with runtime.db.write() as conn:
        impact_repo.set_impact(
            conn,
            incident.seq,
            {
                "assessed_at": "2026-12-08T00:00:00+00:00",
                "truncated": False,
                "entities": {"EMAIL": 2, "PERSON": 1, "PHONE": 1},
                "records": 3,
                "users": ["u-17", "u-18"],
                "user_count": 2,
                "subjects": subjects,
            },
        )
    page = sign_in(Role.VIEWER).get(f"/incidents/{incident.id}")
    assert page.status_code == 200, page.text
    assert "Affected people, and why" in page.text
    assert "u-17: EMAIL, PHONE found in 2 leaked records" in page.text
    assert "u-18: PERSON found in 1 leaked record;" not in page.text
    assert "u-18: PERSON found in 1 leaked record." in page.text
