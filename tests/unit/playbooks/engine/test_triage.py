"""An alert no rule knows opens a triage incident whose generic playbook runs; a person's
retype (over the API) records who and why and starts the new type's playbook."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.model import IncidentType, Severity
from defib.playbooks.runs import RunStatus
from defib.store import tokens as token_repo
from tests.support.engine import only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Words that share little with any rule or type description: the classifier can only guess.
ODD_ALERT = {
    "source": "support-desk",
    "title": "Support bot behaving oddly",
    "description": "Several customers say the bot replies contain strange content.",
    "systems": ["support-bot"],
    "severity": "warning",
}


def _token(rt: Runtime, role: Role) -> str:
    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name=f"t-{role.value}", role=role, token=token, created_by="t", now=utcnow()
        )
    return token


def test_unknown_alert_opens_triage_and_retype_starts_the_types_playbook(
    worker_runtime: Runtime,
) -> None:
    rt = worker_runtime
    [result] = rt.intake.ingest(ODD_ALERT, None, "monitor")
    assert result.action == "created", result
    assert result.reason.startswith("needs triage")
    inc = rt.incidents.get(result.incident_id or "")
    assert inc.needs_triage and inc.affected_systems == ("support-bot",)
    guess = inc.type

    # The triage incident's run was planned with it (same transaction) and is the generic
    # playbook, whatever the guess; it runs to the end on its own (needing a person: nothing
    # is configured to notify or verify).
    first = only_run(rt, inc.id)
    assert first.playbook == "generic"
    assert wait_run(rt, first.id).status is RunStatus.NEEDS_ATTENTION

    # A type with a playbook of its own (not the generic one).
    new_type = (
        IncidentType.HALLUCINATION
        if guess is not IncidentType.HALLUCINATION
        else IncidentType.TOXICITY
    )
    responder = _token(rt, Role.RESPONDER)
    viewer = _token(rt, Role.VIEWER)
    with TestClient(create_app(rt)) as client:
        url = f"/api/v1/incidents/{inc.id}/retype"
        body = {"type": new_type.value, "reason": "answers invent refund rules"}
        denied = client.post(url, json=body, headers={"Authorization": f"Bearer {viewer}"})
        assert denied.status_code == 403
        blank = client.post(
            url,
            json={"type": new_type.value, "reason": "  "},
            headers={"Authorization": f"Bearer {responder}"},
        )
        assert blank.status_code == 422
        ok = client.post(url, json=body, headers={"Authorization": f"Bearer {responder}"})
        assert ok.status_code == 200, ok.text
        out = ok.json()
    assert out["type"] == new_type.value and out["needs_triage"] is False
    # Severity follows the policy for the new type, for the alert that opened it.
    want = {IncidentType.HALLUCINATION: Severity.SEV3, IncidentType.TOXICITY: Severity.SEV2}
    assert out["severity"] == want[new_type].value

    [retyped] = [e for e in rt.incidents.timeline(inc.id) if e.kind == "retyped"]
    assert retyped.data["from"] == guess.value and retyped.data["to"] == new_type.value
    assert retyped.data["reason"] == "answers invent refund rules"
    assert retyped.actor == "t-responder"

    runs = rt.engine.list_runs(inc.id)
    assert sorted(r.playbook for r in runs) == sorted(["generic", new_type.value])
    second = next(r for r in runs if r.playbook == new_type.value)
    # It runs (its own steps may then wait for an approval).
    started = wait_run(rt, second.id, lambda r: r.steps[0].status is not RunStatus.PENDING)
    assert [s.name for s in started.steps] != [s.name for s in first.steps]
