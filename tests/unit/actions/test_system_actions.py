"""The system-facing actions one at a time (user playbooks), against loopback peers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from defib.bootstrap import Runtime
from defib.model import Command, IncidentType, Status
from defib.playbooks.runs import RunStatus
from defib.store import systems as systems_repo
from defib.store import tokens as token_repo
from defib.systems.control import ControlService
from defib.systems.state import Capture, VersionStatus
from tests.support.actions import systems_config
from tests.support.actions.peers import ChatPeer, HttpPeer, MailPeer
from tests.support.engine import declare, only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# A known fact answered right: evidence for the hallucination incidents these tests declare
# (an untyped probe would be evidence for no type).
PROBE = {
    "prompt": "What is the capital of France?",
    "must_contain": ["Paris"],
    "types": ["hallucination"],
}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")


def events(rt: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in rt.incidents.timeline(incident_id) if e.kind == kind]


def config_with(http: HttpPeer, mail: MailPeer | None, **system: Any) -> dict[str, Any]:
    config = systems_config(http, mail)
    config["systems"][0].update(system)
    return config


def playbook(*steps: str) -> str:
    body = "\n".join(f"  - {s}" for s in steps)
    return (
        f"name: t\napplies_to: [hallucination, toxicity, data_leak, performance]\nsteps:\n{body}\n"
    )


def test_failed_verification_keeps_the_system_contained(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """Probes that fail (missing text, a detector finding) leave the kill switch on, put
    the failures on the timeline, fail the step and do not mark the incident mitigated."""
    chat_peer.answer = "I am not sure. Ask jane.doe@example.org"
    playbook_dir(
        playbook(
            "{name: contain, action: disable_endpoint}",
            "{name: check, action: verify_endpoint}",
        )
    )
    rt = make_runtime(**config_with(http_peer, None, probes=[PROBE], endpoint=chat_peer.url))
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    check = run.steps[1]
    assert check.status is RunStatus.FAILED
    assert "does not contain 'Paris'" in (check.error or "")
    assert "detector finding EMAIL" in (check.error or "")
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and state.disabled
    (failed,) = events(rt, inc, "run_step_verification_failed")
    assert failed["kept_contained"] is True
    assert "jane.doe" not in str(failed)  # problems name entity types, never the values
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_verification_through_the_gateway_uses_a_short_lived_probe_token(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """With control kind gateway and no endpoint, probes go to the gateway's per-system
    route with X-Defib-Probe and a responder token that is revoked afterwards; the kill
    switch this incident set is lifted, one set by another incident is not."""
    playbook_dir(
        playbook(
            "{name: contain, action: disable_endpoint}", "{name: check, action: verify_endpoint}"
        )
    )
    gateway_url = chat_peer.url.removesuffix("/v1")
    rt = make_runtime(**config_with(http_peer, None, probes=[PROBE]), gateway={"url": gateway_url})
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, [s.error for s in run.steps]
    (probe,) = chat_peer.requests
    assert probe.path == "/systems/chat-api/v1/chat/completions"
    assert probe.headers["x-defib-probe"] == "1"
    with rt.db.read() as conn:
        assert token_repo.authenticate(conn, probe.headers["x-defib-token"]) is None  # revoked
        names = [t.name for t in token_repo.list_tokens(conn, include_revoked=True)]
    assert any(n.startswith("probe-") for n in names)
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and not state.disabled


def test_rollback_refuses_without_a_known_good_version(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
) -> None:
    playbook_dir(playbook("{name: back, action: rollback_model}"))
    rt = make_runtime(**config_with(http_peer, None, versions=[{"name": "v1"}, {"name": "v2"}]))
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    step = run.steps[0]
    assert step.status is RunStatus.FAILED
    assert "chat-api: no known-good version to roll back to" in (step.error or "")
    assert "v1 (unknown)" in (step.error or "")
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and state.active_version == "v2"


def test_rollback_by_incident_free_service_and_a_signed_registry_post(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
) -> None:
    """v1 served two days without an incident (known-good by time, no mark); the http
    registry gets `{"action": "rollback", "from_version", "to_version"}`, signed."""
    playbook_dir(playbook("{name: back, action: rollback_model}"))
    rt = make_runtime(
        **config_with(
            http_peer,
            None,
            versions=[{"name": "v1"}, {"name": "v2"}],
            registry={
                "kind": "http",
                "url": f"{http_peer.url}/registry",
                "secret_env": "TEST_HOOK_SECRET",
                "good_after_seconds": 86400,
            },
        )
    )
    now = datetime.now(UTC)
    with rt.db.write() as conn:
        systems_repo.note_served(conn, "chat-api", "v1", now - timedelta(days=3))
        systems_repo.note_served(conn, "chat-api", "v1", now - timedelta(days=1))
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, run.steps[0].error
    (post,) = http_peer.at("/registry")
    body = post.json()
    assert {k: body[k] for k in ("action", "from_version", "to_version", "incident")} == {
        "action": "rollback",
        "from_version": "v2",
        "to_version": "v1",
        "incident": inc,
    }
    assert post.headers["webhook-signature"].startswith("v1,")
    assert post.headers["webhook-id"] == post.key
    (planned,) = events(rt, inc, "run_step_rollback_planned")
    assert "without an incident" in planned["why"]
    versions = {v.name: v.status for v in ControlService(rt.db).versions("chat-api")}
    assert versions["v2"] is VersionStatus.BAD


def test_filters_on_a_control_plane_and_unknown_systems(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
) -> None:
    """block_output with patterns POSTs them to the control plane and records them; a
    system nobody configured is reported, not failed."""
    playbook_dir(
        playbook(
            '{name: block, action: block_output, params: {patterns: ["\\\\d{3}-\\\\d{4}"],'
            " systems: [chat-api, mystery]}}"
        )
    )
    rt = make_runtime(
        **config_with(http_peer, None, control={"kind": "http", "url": f"{http_peer.url}/ctl"})
    )
    start_worker(rt)
    inc = declare(rt, IncidentType.TOXICITY)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    step = run.steps[0]
    assert step.status is RunStatus.SUCCEEDED, step.error
    assert step.output is not None and step.output["unknown_systems"] == ["mystery"]
    (post,) = http_peer.at("/ctl")
    assert post.json()["action"] == "add_filters"
    assert [f["pattern"] for f in post.json()["filters"]] == [r"\d{3}-\d{4}"]
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and [f.pattern for f in state.filters] == [r"\d{3}-\d{4}"]


def test_affected_users_by_address_template_once_each(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """Addresses come from the operator's directory (issue 11: a user id that looks like an
    address is still only a key); a failing SMTP answer fails only that user, and the
    step's retry mails only the users not yet mailed."""
    playbook_dir(
        playbook(
            "{name: assess, action: assess_data_impact}",
            "{name: tell, action: notify_affected_users,"
            " retries: {count: 1, backoff_seconds: 0.01},"
            ' params: {subject: "About {{ incident.id }}"}}',
        )
    )
    config = config_with(http_peer, mail_peer)
    config["notifications"]["retries"]["attempts"] = 1
    config["notifications"]["affected_users"] = {
        "directory": {"u1": "u1@users.example.com", "u2": "u2@users.example.com"}
    }
    rt = make_runtime(**config)
    at = datetime.now(UTC) - timedelta(minutes=1)
    with rt.db.write() as conn:
        systems_repo.insert_captures(
            conn,
            [
                Capture(
                    system="chat-api",
                    version=None,
                    at=at,
                    request_id=f"r{i}",
                    endpoint="chat",
                    prompt="p",
                    response=f"card 4111 1111 1111 1111 {owner}".strip(),
                    masked=False,
                    status_code=200,
                    latency_ms=1,
                    user_id=user,
                )
                # The affected are whose addresses leaked (issue 25), not who asked.
                for i, (user, owner) in enumerate(
                    [
                        ("mallory@evil.example", "of u1@users.example.com"),
                        ("u1", "of u2@users.example.com"),
                        ("mallory@evil.example", ""),
                    ]
                )
            ],
        )
    mail_peer.fail_codes.append("550 mailbox unavailable")  # the first user's first try
    start_worker(rt)
    inc = declare(rt, IncidentType.DATA_LEAK)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    tell = run.steps[1]
    assert tell.status is RunStatus.SUCCEEDED and tell.attempts == 2, tell.error
    rcpts = sorted(r for m in mail_peer.mails for r in m.rcpt_tos)
    # Each exactly once; the client-supplied "mallory@evil.example" is not in the directory.
    assert rcpts == ["u1@users.example.com", "u2@users.example.com"]
    assert all(m.message["Subject"] == f"About {inc}" for m in mail_peer.mails)
    assert len(events(rt, inc, "run_step_user_notification_failed")) == 1


def test_pagerduty_resolves_when_the_incident_resolves(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """notify_team triggers with dedup_key = incident id; resolving sends resolve once."""
    rt = make_runtime(**systems_config(http_peer, mail_peer))
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE)
    wait_run(rt, only_run(rt, inc).id, timeout=60)
    rt.incidents.apply(inc, Command.RESOLVE, "alice")
    deadline = time.monotonic() + 20
    while not events(rt, inc, "pagerduty_resolved") and time.monotonic() < deadline:
        time.sleep(0.05)
    (resolved,) = events(rt, inc, "pagerduty_resolved")
    bodies = [r.json() for r in http_peer.at("/pd/v2/enqueue")]
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    assert bodies[1] == {"routing_key": "R0UT1NGKEY", "event_action": "resolve", "dedup_key": inc}
    assert resolved["dedup_key"] == inc


def test_rollback_of_an_unversioned_system_is_skipped_with_the_reason(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
) -> None:
    playbook_dir(playbook("{name: back, action: rollback_model}"))
    rt = make_runtime(**systems_config(http_peer, None))
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.steps[0].status is RunStatus.SKIPPED
    (skipped,) = events(rt, inc, "run_step_control_skipped")
    assert "chat-api: no model versions configured" in skipped["reason"]


def test_verification_of_an_incident_already_mitigated_changes_nothing(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """The second verification finds the incident mitigated and leaves the lifecycle be."""
    playbook_dir(
        playbook("{name: check, action: verify_endpoint}", "{name: again, action: verify_endpoint}")
    )
    rt = make_runtime(**config_with(http_peer, None, probes=[PROBE], endpoint=chat_peer.url))
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED
    outputs = [s.output["mitigated"] for s in run.steps if s.output]
    assert outputs == ["marked mitigated", "already mitigated"]
    transitions = [e for e in rt.incidents.timeline(inc) if e.kind == "transition"]
    assert [t.data["to"] for t in transitions] == ["mitigated"]


def test_pagerduty_resolves_when_every_alert_clears_after_mitigation(
    make_runtime: Callable[..., Runtime], http_peer: HttpPeer
) -> None:
    """The other way an incident resolves (intake, not a person) also resolves PagerDuty."""
    rt = make_runtime(**systems_config(http_peer, None))
    alert = {
        "source": "guardrails",
        "type": "performance",
        "title": "p99 latency",
        "systems": ["chat-api"],
        "severity": "high",
        "dedup_key": "lat",
    }
    (opened,) = rt.intake.ingest(alert, "native", "tester")
    assert opened.incident_id is not None
    rt.incidents.apply(opened.incident_id, Command.MITIGATE, "alice")
    (cleared,) = rt.intake.ingest({**alert, "status": "resolved"}, "native", "tester")
    assert cleared.action == "resolved"
    deadline = time.monotonic() + 20
    while not events(rt, opened.incident_id, "pagerduty_resolved"):
        assert time.monotonic() < deadline, events(
            rt, opened.incident_id, "pagerduty_resolve_failed"
        )
        time.sleep(0.05)
    (resolve,) = [r.json() for r in http_peer.at("/pd/v2/enqueue")]
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == opened.incident_id
