"""Every built-in playbook end to end with a worker, against real peers on loopback: a
control-plane receiver (HttpPeer), an SMTP server (aiosmtpd), an OpenAI-compatible chat
server (ChatPeer); both databases. No step is left unimplemented."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from defib.bootstrap import Runtime
from defib.integrations.signing import verify
from defib.model import IncidentType, Status
from defib.playbooks.runs import RunStatus
from defib.store import impact as impact_repo
from defib.store import systems as systems_repo
from defib.systems.control import ControlService, Owner
from defib.systems.state import Capture, FilterAction, VersionStatus
from tests.support.actions import systems_config
from tests.support.actions.peers import ChatPeer, HttpPeer, MailPeer
from tests.support.engine import declare, only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LEAKED_CARD = "4111 1111 1111 1111"
LEAKED_EMAIL = "jane.doe@example.org"
PROBE = {"prompt": "What is the capital of France?", "must_contain": ["paris"]}
# A known fact answered right: evidence about made-up answers (an untyped probe is not).
FACT_PROBE = {**PROBE, "types": ["hallucination"]}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")


def events(rt: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in rt.incidents.timeline(incident_id) if e.kind == kind]


def config_with(http: HttpPeer, mail: MailPeer | None, **system: Any) -> dict[str, Any]:
    config = systems_config(http, mail)
    config["systems"][0].update(system)
    return config


def statuses(run: Any) -> dict[str, RunStatus]:
    return {s.name: s.status for s in run.steps}


def test_hallucination_via_a_control_plane(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
    chat_peer: ChatPeer,
) -> None:
    """disable (signed POST) -> notify -> evidence -> rollback v2 -> v1 (marked good) ->
    verify through the endpoint -> re-enable (signed POST) and mark mitigated."""
    rt = make_runtime(
        **config_with(
            http_peer,
            mail_peer,
            control={
                "kind": "http",
                "url": f"{http_peer.url}/control",
                "secret_env": "TEST_HOOK_SECRET",
            },
            versions=[{"name": "v1", "model": "chat-v1"}, {"name": "v2", "model": "chat-v2"}],
            probes=[FACT_PROBE],
            endpoint=chat_peer.url,
        )
    )
    ControlService(rt.db).mark_version("chat-api", "v1", VersionStatus.GOOD, Owner("tester"))
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION, title="Invented refund policy")
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, statuses(run)
    assert set(statuses(run).values()) == {RunStatus.SUCCEEDED}

    control = http_peer.at("/control")
    assert [r.json()["action"] for r in control] == ["disable", "enable"]
    for r in control:
        body = r.json()
        assert body["system"] == "chat-api" and body["incident"] == inc
        assert body["idempotency_key"] == r.key and r.key.startswith(f"{run.id}:")
        assert verify(r.body, "hook-secret", dict(r.headers))
    assert control[0].json()["reason"] == f"{inc}: Invented refund policy"

    state = ControlService(rt.db).state("chat-api")
    assert state is not None and not state.disabled and state.active_version == "v1"
    versions = {v.name: v.status for v in ControlService(rt.db).versions("chat-api")}
    assert versions == {"v1": VersionStatus.GOOD, "v2": VersionStatus.BAD}
    (planned,) = events(rt, inc, "run_step_rollback_planned")
    assert (planned["from"], planned["to"]) == ("v2", "v1")
    assert "marked good" in planned["why"]

    (probe,) = chat_peer.requests
    assert probe.json()["model"] == "chat-v1"  # the rolled-back version answers the probe
    assert "x-defib-token" not in probe.headers  # not through the gateway: no token
    (verified,) = events(rt, inc, "run_step_verified")
    assert verified["how"] == "1 hallucination probe(s) passed"
    assert verified["mitigated"] == "marked mitigated"
    assert rt.incidents.get(inc).status is Status.MITIGATED


def test_toxicity_blocks_then_waits_for_the_guardrail_review(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """block_output puts a blocking toxicity filter on the gateway state; the review waits
    for a responder; after sign-off the filters are tightened (redacting, lower threshold)."""
    rt = make_runtime(**systems_config(http_peer, mail_peer))
    start_worker(rt)
    inc = declare(rt, IncidentType.TOXICITY)
    run_id = only_run(rt, inc).id
    run = wait_run(rt, run_id, until=lambda r: r.steps[2].status is RunStatus.WAITING_APPROVAL)
    assert statuses(run)["block_output"] is RunStatus.SUCCEEDED
    state = ControlService(rt.db).state("chat-api")
    assert state is not None
    (blocking,) = state.filters
    assert (blocking.detector, blocking.threshold, blocking.action) == (
        "toxicity",
        0.5,
        FilterAction.BLOCK,
    )
    assert blocking.incident_seq == rt.incidents.get(inc).seq
    rt.engine.decide(run_id, 2, approve=True, actor="alice", role="responder", note="lexicon ok")
    run = wait_run(rt, run_id)
    assert run.status is RunStatus.SUCCEEDED, statuses(run)
    state = ControlService(rt.db).state("chat-api")
    assert state is not None
    assert [(f.detector, f.threshold, f.action) for f in state.filters] == [
        ("toxicity", 0.5, FilterAction.BLOCK),
        ("toxicity", 0.3, FilterAction.REDACT),
    ]
    (checklist,) = events(rt, inc, "run_step_checklist")
    assert checklist["status"] == "signed_off" and checklist["signed_off_by"] == "alice"
    assert checklist["note"] == "lexicon ok" and len(checklist["items"]) >= 3
    # While it waited, people could already read what they were signing off.
    (waiting,) = events(rt, inc, "run_step_waiting_approval")
    assert all(item in waiting["asks"] for item in checklist["items"]), waiting["asks"]


def _captures(rt: Runtime) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    common = {"version": "v1", "endpoint": "chat", "status_code": 200, "latency_ms": 5}
    with rt.db.write() as conn:
        systems_repo.insert_captures(
            conn,
            [
                Capture(
                    system="chat-api",
                    at=at,
                    request_id="r1",
                    prompt="card?",
                    response=f"The card is {LEAKED_CARD}, email {LEAKED_EMAIL}",
                    masked=False,
                    user_id="u-17",
                    **common,
                ),
                Capture(
                    system="chat-api",
                    at=at,
                    request_id="r2",
                    prompt="[MASKED]",
                    response="Write to [EMAIL]",
                    masked=True,
                    user_id="bob@example.com",
                    findings=({"detector": "pii", "entity": "EMAIL", "count": 1},),
                    **common,
                ),
                Capture(
                    system="chat-api",
                    at=at,
                    request_id="r3",
                    prompt="hi",
                    response="Hello!",
                    masked=False,
                    user_id="u-99",
                    **common,
                ),
                Capture(
                    system="other",
                    at=at,
                    request_id="r4",
                    prompt="x",
                    response=f"email {LEAKED_EMAIL}",
                    masked=False,
                    user_id="u-5",
                    **common,
                ),
            ],
        )


def test_data_leak_contains_assesses_and_emails_users_after_approval(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """disable (gateway state) -> security notified -> evidence -> impact from captures
    (values never stored) -> after approval, one email per data subject whose address
    leaked, no leaked data; the requesting users (client-chosen ids) are not mailed."""
    config = systems_config(http_peer, mail_peer)
    # Addresses come from the operator's directory, never from the user ids (issue 11); the
    # affected are the people whose identifiers leaked, not the requesters (issue 25).
    config["notifications"]["affected_users"] = {
        "directory": {"bob@example.com": "bob@corp.example", "jane": LEAKED_EMAIL}
    }
    rt = make_runtime(**config)
    _captures(rt)
    start_worker(rt)
    inc = declare(rt, IncidentType.DATA_LEAK, title="Card numbers in replies")
    run_id = only_run(rt, inc).id
    notify = next(s.index for s in only_run(rt, inc).steps if s.name == "notify_affected_users")
    run = wait_run(rt, run_id, until=lambda r: r.steps[notify].status is RunStatus.WAITING_APPROVAL)
    assert [s.status for s in run.steps[:4]] == [RunStatus.SUCCEEDED] * 4, statuses(run)
    # chat-api has no versions or probes here: rollback skips, saying why, and nothing can
    # prove the leak gone, so verification ends unverified and the endpoint stays disabled.
    assert [s.status for s in run.steps[4:notify]] == [
        RunStatus.SKIPPED,
        RunStatus.UNVERIFIED,
    ], statuses(run)
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and state.disabled
    assert state.disabled_by == rt.incidents.get(inc).seq
    with rt.db.read() as conn:
        impact = impact_repo.get_impact(conn, rt.incidents.get(inc).seq)
    assert impact is not None
    assert impact["entities"] == {"CREDIT_CARD": 1, "EMAIL": 2}
    assert impact["users"] == ["jane"] and impact["records"] == 2
    assert impact["subjects"][0]["matched_by"] == ["EMAIL"]
    assert impact["matching"]["claimed_users_not_used"] == 2
    assert impact["scanned"]["captures"] == 3
    stored = json.dumps(impact) + json.dumps(events(rt, inc, "run_step_impact_assessed"))
    assert LEAKED_CARD not in stored and LEAKED_EMAIL not in stored
    assert len(mail_peer.mails) == 1  # security only: users wait for the approval
    (waiting,) = [
        e
        for e in events(rt, inc, "run_step_waiting_approval")
        if e["step"] == "notify_affected_users"
    ]
    assert (
        "1 recipient at example.org (1); found in the leaked answers by EMAIL (1)"
        in (waiting["asks"])
    )

    rt.engine.decide(run_id, notify, approve=True, actor="alice", role="responder", note=None)
    run = wait_run(rt, run_id)
    # Rolled back nothing and verified nothing: the run ends asking for a person.
    assert run.status is RunStatus.NEEDS_ATTENTION, statuses(run)
    assert "rollback_model was skipped" in (run.error or "")
    assert not [m for m in mail_peer.mails if m.rcpt_tos == ["bob@corp.example"]]  # requester
    (mail,) = [m for m in mail_peer.mails if m.rcpt_tos == [LEAKED_EMAIL]]
    body = str(mail.message.get_payload())
    assert inc in body and LEAKED_CARD not in body and LEAKED_EMAIL not in body
    assert mail.message["X-Defib-Idempotency-Key"].startswith(f"{run_id}:{notify}:")
    (sent,) = events(rt, inc, "run_step_user_notified")
    assert sent["user_id"] == "jane" and sent["matched_by"] == ["EMAIL"]
    assert events(rt, inc, "run_step_user_not_notifiable") == []


def test_generic_verifies_and_marks_mitigated(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
    chat_peer: ChatPeer,
) -> None:
    """A performance incident is verified by a probe that names `performance` and bounds
    its latency, passing for the system's hold window (a content probe would prove nothing
    about latency). The window is short here; by default it is 60 s."""
    latency = {
        **PROBE,
        "prompt": "What is the capital of France? Quickly.",
        "types": ["performance"],
        "max_latency_ms": 5000,
    }
    rt = make_runtime(
        **config_with(
            http_peer,
            mail_peer,
            probes=[PROBE, latency],
            endpoint=chat_peer.url,
            verification={"hold_seconds": 0.3, "interval_seconds": 0.1},
        )
    )
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, title="p99 9s")
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, statuses(run)
    assert set(statuses(run).values()) == {RunStatus.SUCCEEDED}
    assert rt.incidents.get(inc).status is Status.MITIGATED
    # Only the latency probe, round after round across the hold (the content probe is not
    # sent for a performance incident).
    assert len(chat_peer.requests) >= 2
    assert {r.json()["messages"][0]["content"] for r in chat_peer.requests} == {latency["prompt"]}
    transitions = [e.data for e in rt.incidents.timeline(inc) if e.kind == "transition"]
    (moved,) = [t for t in transitions if t["to"] == "mitigated"]
    assert "1 performance probe(s) passed for 0.3 s" in moved["note"]


@pytest.mark.parametrize("playbook", ["hallucination", "toxicity", "data_leak", "generic"])
def test_dry_runs_describe_every_step_without_acting(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
    playbook: str,
) -> None:
    """A dry run says what each real action would do; nothing is contacted or changed."""
    rt = make_runtime(
        **config_with(
            http_peer,
            None,
            versions=[{"name": "v1"}, {"name": "v2"}],
            probes=[PROBE],
            endpoint=chat_peer.url,
            owners={"team": "assistants"},  # no channels: the real generic run ends at once
        )
    )
    ControlService(rt.db).mark_version("chat-api", "v1", VersionStatus.GOOD, Owner("tester"))
    inc = declare(rt, IncidentType.BIAS)  # the generic playbook; its real run is not started
    start_worker(rt)
    wait_run(rt, only_run(rt, inc).id, timeout=60)
    requests_before = len(http_peer.requests) + len(chat_peer.requests)
    dry = rt.engine.start_run(inc, "tester", playbook=playbook, dry_run=True)
    run = wait_run(rt, dry.id, timeout=60)
    would = {s.name: (s.output or {}).get("would", "") for s in run.steps}
    assert all(w and "would fail" not in w for w in would.values()), would
    if playbook == "hallucination":
        assert would["rollback_model"] == ("rollback_model: chat-api: v2 -> v1 (v1 is marked good)")
        assert would["verify_endpoint"].startswith(
            "verify_endpoint: chat-api: the incident's captured samples and 0 bias probe(s)"
            " (with 1 untyped probe(s) beside them) at "
        )
    assert len(http_peer.requests) + len(chat_peer.requests) == requests_before
