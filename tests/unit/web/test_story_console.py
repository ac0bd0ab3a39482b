"""The console tells the story (TestClient, both backends): the incident header says what
is burning, what defib did and what waits for you; the list is in urgency order; the
silences page; the 404 page keeps the navigation."""

from __future__ import annotations

import re

from defib.auth import Role
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.incidents.lifecycle import IncidentDraft
from defib.model import Command, IncidentType, Severity, TimelineEvent
from defib.playbooks.engine.ledger import StepRef
from defib.store import incidents as incident_repo
from defib.web.incidents import ListQuery, load_list
from tests.support.web import SignIn, csrf_of

ALERT = {
    "receiver": "defib",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "PIIInResponses",
                "system": "support-bot",
                "severity": "critical",
                "team": "support-ai",
            },
            "annotations": {
                "summary": "support-bot answers with other customers' e-mail addresses",
                "runbook_url": "https://runbooks.example/pii",
            },
            "generatorURL": "https://prometheus.example/graph?g0.expr=pii_findings",
            "startsAt": "2026-12-07T02:58:00Z",
        }
    ],
}


def _head(html: str) -> str:
    found = re.search(r'<section id="incident-head".*?</section>\n', html, re.S)
    assert found, "no incident header"
    start = found.start()
    end = html.index('<section class="card controls"', start) if "card controls" in html else None
    return html[start:end]


def _waiting(runtime: Runtime, severity: Severity = Severity.SEV2) -> tuple[str, str]:
    incident = runtime.incidents.declare(
        IncidentDraft(
            type=IncidentType.TOXICITY,
            severity=severity,
            title="Toxic replies",
            affected_systems=["support-bot"],
        ),
        actor="test",
    )
    run = runtime.engine.list_runs(incident.id)[0]
    index = next(s.index for s in run.steps if s.name == "review_guardrails")
    ref = StepRef(run.id, 0, index, "review_guardrails", run.incident_seq)
    runtime.engine.ledger.waiting(ref, "responder", 3600, "sign off")
    return incident.id, run.id


def seq(iid: str) -> int:
    return int(iid.removeprefix("INC-"))


def _event(runtime: Runtime, iid: str, actor: str, kind: str, data: dict[str, object]) -> None:
    with runtime.db.write() as conn:
        incident_repo.append_event(conn, seq(iid), TimelineEvent(utcnow(), actor, kind, data))


def test_header_says_what_burns_what_defib_did_and_what_waits_with_the_button(
    sign_in: SignIn, runtime: Runtime
) -> None:
    iid, run_id = _waiting(runtime)
    _event(
        runtime,
        iid,
        f"run:{run_id}",
        "system_state_changed",
        {
            "system": "support-bot",
            "change": "route",
            "to_version": "v1",
            "marked_bad": "v2",
            "active_version": "v1",
            "changed": True,
        },
    )
    client = sign_in(Role.RESPONDER)
    head = _head(client.get(f"/incidents/{iid}").text)
    assert "What is burning" in head and "toxicity" in head and "support-bot" in head
    assert "Rolled support-bot back from v2 to v1" in head
    assert "What waits for you" in head
    assert "Acknowledge it: nobody has yet" in head
    assert "Approve or reject review_guardrails" in head
    assert f'action="/runs/{run_id}/steps/' in head and ">Approve<" in head
    # The timeline's rows are sentences with a readable actor, not the run id on each row.
    page = client.get(f"/incidents/{iid}").text
    timeline = page[page.index('id="timeline-h"') :]
    assert "defib (playbook toxicity)" in timeline
    assert f"run:{run_id}" not in timeline
    # A viewer reads the same story without the buttons.
    viewer_head = _head(sign_in(Role.VIEWER).get(f"/incidents/{iid}").text)
    assert "Approve or reject review_guardrails" in viewer_head and ">Approve<" not in viewer_head


def test_alert_details_are_one_click_away_and_only_web_links_are_links(
    sign_in: SignIn, runtime: Runtime
) -> None:
    alert = {**ALERT, "alerts": [{**ALERT["alerts"][0]}]}  # type: ignore[dict-item]
    alert["alerts"][0]["annotations"] = {  # type: ignore[index]
        **ALERT["alerts"][0]["annotations"],  # type: ignore[index]
        "dashboard": "javascript:alert(1)",
    }
    [result] = runtime.intake.ingest(alert, "alertmanager", "alertmanager")
    iid = result.incident_id or ""
    head = _head(sign_in(Role.VIEWER).get(f"/incidents/{iid}").text)
    assert "support-bot answers with other customers&#39; e-mail addresses" in head
    details = head[head.index('<details class="alert-details">') :]
    assert "team=support-ai" in details and "runbook_url" in details
    assert 'href="https://prometheus.example/graph?g0.expr=pii_findings"' in details
    assert 'href="javascript:' not in details
    assert "firing" in details


def test_list_is_in_urgency_order_with_a_waiting_marker_and_the_nav_counts_approvals(
    sign_in: SignIn, runtime: Runtime
) -> None:
    def declare(title: str, severity: Severity) -> str:
        draft = IncidentDraft(
            type=IncidentType.HALLUCINATION, severity=severity, title=title, affected_systems=[]
        )
        return runtime.incidents.declare(draft, actor="test").id

    mitigated = declare("mitigated sev3", Severity.SEV3)
    runtime.incidents.apply(mitigated, Command.MITIGATE, "t")
    acked_sev1 = declare("acked sev1", Severity.SEV1)
    runtime.incidents.apply(acked_sev1, Command.ACKNOWLEDGE, "t")
    waiting, _ = _waiting(runtime, Severity.SEV3)
    runtime.incidents.apply(waiting, Command.ACKNOWLEDGE, "t")
    unacked_sev1 = declare("unacked sev1", Severity.SEV1)
    listing = load_list(runtime, ListQuery([], [], [], None, None))
    assert [i.id for i in listing.items] == [unacked_sev1, waiting, acked_sev1, mitigated]
    assert listing.waiting[seq(waiting)] == "approval"
    assert listing.waiting[seq(unacked_sev1)] == "unacknowledged"
    assert seq(acked_sev1) not in listing.waiting
    page = sign_in(Role.VIEWER).get("/").text
    assert page.index(unacked_sev1 + "<") < page.index(waiting + "<") < page.index(mitigated + "<")
    assert "waiting for you: approval" in page
    assert re.search(r'Approvals <span class="nav-count"[^>]*>1</span>', page)


def test_silences_page_adds_lists_what_it_mutes_and_expires(
    sign_in: SignIn, runtime: Runtime
) -> None:
    incident = runtime.incidents.declare(
        IncidentDraft(
            type=IncidentType.TOXICITY,
            severity=Severity.SEV3,
            title="rude",
            affected_systems=["support-bot"],
        ),
        actor="test",
    )
    client = sign_in(Role.RESPONDER)
    page = client.get("/silences")
    assert page.status_code == 200 and "Nothing is silenced" in page.text
    csrf = csrf_of(page.text)
    broad = client.post(
        "/silences",
        data={"csrf": csrf, "matchers": 'system="support-bot"', "hours": "2", "comment": "deploy"},
    )
    assert "Needs an admin" in client.get(broad.headers["location"]).text
    added = client.post(
        "/silences",
        data={
            "csrf": csrf,
            "matchers": 'system="support-bot"\ntype="toxicity"',
            "hours": "2",
            "comment": "known: deploy 42",
        },
    )
    listed = client.get(added.headers["location"]).text
    assert "added" in listed and "known: deploy 42" in listed
    [silence] = runtime.silences.search()
    assert silence.created_by == "responder-bot"
    row = listed[listed.index(f'id="silence-{silence.id}"') :]
    assert f'href="/incidents/{incident.id}"' in row.split("</tr>")[0]
    expired = client.post(f"/silences/{silence.id}/expire", data={"csrf": csrf})
    assert "expired" in client.get(expired.headers["location"]).text
    assert runtime.silences.search()[0].state(runtime.silences.clock()) == "expired"
    viewer_page = sign_in(Role.VIEWER).get("/silences").text
    assert "Add a silence" not in viewer_page


def test_an_unknown_page_is_a_404_inside_the_layout_and_the_api_stays_json(
    sign_in: SignIn,
) -> None:
    client = sign_in(Role.VIEWER)
    page = client.get("/nowhere", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert 'aria-label="Main"' in page.text and "There is no page at /nowhere" in page.text
    api = client.get("/api/v1/nowhere", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/")
    missing = client.get("/incidents/INC-999")
    assert missing.status_code == 404 and 'aria-label="Main"' in missing.text


def test_an_approval_says_what_it_lets_the_step_do_once_and_its_deadline_as_a_local_time(
    sign_in: SignIn, runtime: Runtime
) -> None:
    """ "Approving lets it" once, under "What waits for you" (for a viewer too); the run card,
    "What defib did" and the timeline say the wait with its deadline as a <time>, which the
    page's script shows in the viewer's zone like every other time (UTC on hover)."""
    iid, _ = _waiting(runtime)
    for role in (Role.RESPONDER, Role.VIEWER):
        page = sign_in(role).get(f"/incidents/{iid}").text
        assert page.count("Approving lets it") == 1, role
        assert page.count("sign off") == 1, role
        asks = page[page.index('id="asks-h"') : page.index('id="did-h"')]
        assert "Approving lets it: sign off" in asks
    waits = re.findall(
        r"review_guardrails waits for approval by a responder until (<time[^>]*>)", page
    )
    assert len(waits) == 3, waits  # the run card, "What defib did", the timeline
    assert all('data-local="full"' in w and re.search(r'datetime="[^"]+Z"', w) for w in waits)
    assert " UTC; approving" not in page
