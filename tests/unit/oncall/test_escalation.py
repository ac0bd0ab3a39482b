"""Escalation runs in the engine: level 1 at once, level 2 after its delay, nothing after an
acknowledge; on SQLite and PostgreSQL, with a real worker and loopback receivers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from defib.actions.escalate import playbook_name
from defib.bootstrap import Runtime
from defib.model import Command, IncidentType, Severity
from defib.oncall import who_is_on_call
from defib.playbooks.runs import RunStatus
from tests.support.actions.peers import HttpPeer, MailPeer
from tests.support.engine import declare, wait_run
from tests.support.oncall import oncall_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PAGING = playbook_name("ml-default")


def kinds(rt: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in rt.incidents.timeline(incident_id) if e.kind == kind]


def escalation_run(rt: Runtime, incident_id: str) -> Any:
    (run,) = [r for r in rt.engine.list_runs(incident_id) if r.playbook == PAGING]
    return run


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def on_call_now(rt: Runtime) -> str:
    person = who_is_on_call(rt.oncall.schedule("ml-primary"), rt.oncall.clock())
    assert person is not None
    return person


def test_level_one_at_once_level_two_after_its_delay(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """Nobody acknowledges: the person on call is paged at once (webhook and e-mail keyed by
    incident, policy, level and repeat), carol 2 s later, each page on the timeline once."""
    rt = make_runtime(**oncall_config(http_peer, mail_peer))
    start_worker(rt)
    opened = time.monotonic()
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))
    first = on_call_now(rt)
    wait_for(lambda: bool(http_peer.at(f"/{first}")))
    level1_at = time.monotonic() - opened
    wait_for(lambda: bool(http_peer.at("/carol")))
    level2_at = time.monotonic() - opened
    assert level2_at - level1_at >= 1.9, (level1_at, level2_at)
    run = wait_run(rt, escalation_run(rt, inc).id)
    assert run.status is RunStatus.SUCCEEDED, run
    (page1,) = http_peer.at(f"/{first}")
    assert page1.key == f"{inc}:page:ml-default:1:0:{first}:webhook"
    assert page1.json()["text"].startswith(f"PAGE {inc} (SEV1)")
    assert len(http_peer.at("/carol")) == 1
    sent = kinds(rt, inc, "page_sent")
    got = sorted((e["level"], e["person"], e["channel"]) for e in sent)
    expected = [(1, first, "webhook"), (2, "carol", "webhook")]
    if first == "alice":
        expected.insert(0, (1, "alice", "email"))
    assert got == sorted(expected)
    assert [e["level"] for e in kinds(rt, inc, "escalated")] == [2]
    assert kinds(rt, inc, "paging_stopped") == []


def test_acknowledge_stops_paging(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
) -> None:
    """An acknowledge between level 1 and level 2: carol is never paged, `paging_stopped`
    is on the timeline once and the run ends."""
    rt = make_runtime(**oncall_config(http_peer, level2_after="3s", repeat=2))
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))
    first = on_call_now(rt)
    # The page on the timeline, not just received: time to acknowledge counts from it (a
    # loaded machine can take the acknowledge between the delivery and its record).
    wait_for(lambda: bool(kinds(rt, inc, "page_sent")))
    rt.incidents.apply(inc, Command.ACKNOWLEDGE, "dana")
    run = wait_run(rt, escalation_run(rt, inc).id, timeout=30)
    assert http_peer.at("/carol") == []
    assert len(http_peer.at(f"/{first}")) == 1
    (stopped,) = kinds(rt, inc, "paging_stopped")
    assert stopped["level"] == 2 and "acknowledged" in stopped["reason"]
    assert run.status is RunStatus.SUCCEEDED
    assert all(s.status is RunStatus.SKIPPED for s in run.steps if s.name.startswith("page-2"))
    metrics = rt.telemetry.render().decode()
    assert (
        'defib_oncall_pages_sent_total{channel="webhook",level="1",policy="ml-default"} 1.0'
        in metrics
    )
    assert 'defib_oncall_time_to_acknowledge_seconds_count{level="1",policy="ml-default"} 1.0' in (
        metrics
    )
    assert "defib_oncall_escalations_total{" not in metrics


def test_severities_outside_the_policy_page_nobody(
    make_runtime: Callable[..., Runtime], http_peer: HttpPeer
) -> None:
    """A SEV3 incident of a system whose policy pages SEV1/SEV2 plans no escalation run."""
    rt = make_runtime(**oncall_config(http_peer))
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV3, systems=("chat-api",))
    assert [r.playbook for r in rt.engine.list_runs(inc) if r.playbook == PAGING] == []
    sev1 = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))
    assert [r.playbook for r in rt.engine.list_runs(sev1) if r.playbook == PAGING] == [PAGING]


def test_default_owners_policy_pages_an_unknown_system(
    make_runtime: Callable[..., Runtime], http_peer: HttpPeer
) -> None:
    """An incident of a system not under systems: is paged by default_owners' policy."""
    config = oncall_config(http_peer)
    config["default_owners"] = {"team": "sre", "escalation_policy": "ml-default"}
    rt = make_runtime(**config)
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV2, systems=("other",))
    assert [r.playbook for r in rt.engine.list_runs(inc) if r.playbook == PAGING] == [PAGING]


def test_an_override_is_paged_instead_of_the_rotation(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
) -> None:
    """An override stored through the service makes carol the one level 1 pages."""
    from datetime import timedelta

    rt = make_runtime(**oncall_config(http_peer, level2_after="60s"))
    now = rt.oncall.clock()
    rt.oncall.add_override(
        "ml-primary", "carol", now - timedelta(minutes=1), now + timedelta(hours=1), "dana"
    )
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))
    wait_for(lambda: bool(http_peer.at("/carol")))
    assert http_peer.at("/alice") == [] and http_peer.at("/bob") == []
    # The page lands on the timeline after the receiver answered: wait for it, not the HTTP.
    wait_for(lambda: bool(kinds(rt, inc, "page_sent")))
    (sent,) = kinds(rt, inc, "page_sent")
    assert sent["person"] == "carol" and sent["why"] == "on call for ml-primary"
    rt.incidents.apply(inc, Command.RESOLVE, "dana")


def test_a_slack_user_is_mentioned_in_the_owners_channel(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
) -> None:
    """carol's slack_user: level 2 posts the incident message with `<@U0CAROL>` (unescaped,
    so Slack notifies her) and the Acknowledge button to chat-api's Slack webhook."""
    config = oncall_config(http_peer, level2_after="1s")
    config["people"][2]["slack_user"] = "U0CAROL"
    config["systems"][0]["owners"]["slack_webhook"] = f"{http_peer.url}/slack/T0/B0/X0"
    rt = make_runtime(**config)
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))

    def mentions() -> list[Any]:
        return [r for r in http_peer.at("/slack/T0/B0/X0") if b"U0CAROL" in r.body]

    wait_for(lambda: bool(mentions()))
    (message,) = mentions()
    body = message.json()
    assert body["text"].startswith(f"<@U0CAROL> you are paged for {inc}")
    assert any(
        e.get("action_id") == "defib_acknowledge"
        for b in body["blocks"]
        for e in b.get("elements", [])
    )
    assert message.key is not None and message.key.startswith(
        f"{inc}:page:ml-default:2:0:carol:slack:"
    )
    wait_run(rt, escalation_run(rt, inc).id)
    channels = sorted(e["channel"] for e in kinds(rt, inc, "page_sent") if e["person"] == "carol")
    assert channels == ["slack", "webhook"]


def test_a_policy_that_repeats_pages_again_under_new_keys(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
) -> None:
    """repeat: 1, 1 s delays, nobody acknowledges: the chain runs twice; the person on call
    and carol each get two pages, keyed by repeat 0 and repeat 1, each once on the timeline."""
    rt = make_runtime(**oncall_config(http_peer, level2_after="1s", repeat=1))
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))
    first = on_call_now(rt)
    run = wait_run(rt, escalation_run(rt, inc).id, timeout=30)
    assert run.status is RunStatus.SUCCEEDED, run
    assert [s.name for s in run.steps if s.name.startswith("page-")] == [
        "page-1-0",
        "page-2-0",
        "page-1-1",
        "page-2-1",
    ]
    assert [r.key for r in http_peer.at(f"/{first}")] == [
        f"{inc}:page:ml-default:1:0:{first}:webhook",
        f"{inc}:page:ml-default:1:1:{first}:webhook",
    ]
    assert [r.key for r in http_peer.at("/carol")] == [
        f"{inc}:page:ml-default:2:0:carol:webhook",
        f"{inc}:page:ml-default:2:1:carol:webhook",
    ]
    repeat_text = http_peer.at(f"/{first}")[1].json()["text"]
    assert "[ml-default level 1, repeat 1]" in repeat_text
    sent = [e for e in kinds(rt, inc, "page_sent") if e["channel"] == "webhook"]
    assert sorted((e["level"], e["repeat"], e["person"]) for e in sent) == [
        (1, 0, first),
        (1, 1, first),
        (2, 0, "carol"),
        (2, 1, "carol"),
    ]
    escalated = sorted((e["level"], e["repeat"]) for e in kinds(rt, inc, "escalated"))
    assert escalated == [(1, 1), (2, 0), (2, 1)]


def test_a_pagerduty_contact_updates_one_pagerduty_incident_per_defib_incident(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
) -> None:
    """carol's pagerduty_routing_key: level 2 and its repeat trigger Events v2 on carol's
    key with dedup_key = the incident (one PagerDuty incident, which PagerDuty's v3 webhook
    maps back), each under its own Idempotency-Key; the key itself is not on the timeline."""
    config = oncall_config(http_peer, level2_after="0s", repeat=1)
    config["people"][2] = {"name": "carol", "pagerduty_routing_key": "R0CAROLKEY0000000000"}
    config["notifications"]["pagerduty"] = {"events_url": f"{http_peer.url}/pd/v2/enqueue"}
    rt = make_runtime(**config)
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, severity=Severity.SEV1, systems=("chat-api",))
    run = wait_run(rt, escalation_run(rt, inc).id, timeout=30)
    assert run.status is RunStatus.SUCCEEDED, run
    events = http_peer.at("/pd/v2/enqueue")
    assert [r.key for r in events] == [
        f"{inc}:page:ml-default:2:0:carol:pagerduty",
        f"{inc}:page:ml-default:2:1:carol:pagerduty",
    ]
    bodies = [r.json() for r in events]
    assert {b["dedup_key"] for b in bodies} == {inc}
    assert {b["routing_key"] for b in bodies} == {"R0CAROLKEY0000000000"}
    assert {b["event_action"] for b in bodies} == {"trigger"}
    assert bodies[0]["payload"]["severity"] == "critical"
    assert "[ml-default level 2]" in bodies[0]["payload"]["custom_details"]["text"]
    pd = [e for e in kinds(rt, inc, "page_sent") if e["channel"] == "pagerduty"]
    assert sorted((e["level"], e["repeat"], e["person"]) for e in pd) == [
        (2, 0, "carol"),
        (2, 1, "carol"),
    ]
    assert all("R0CAROLKEY0000000000" not in str(e) for e in pd)

    # Resolving the defib incident resolves carol's PagerDuty incident too (same dedup_key).
    rt.incidents.apply(inc, Command.RESOLVE, "alice")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(http_peer.at("/pd/v2/enqueue")) < 3:
        time.sleep(0.05)
    resolve = [r.json() for r in http_peer.at("/pd/v2/enqueue")][2:]
    assert resolve == [
        {"routing_key": "R0CAROLKEY0000000000", "event_action": "resolve", "dedup_key": inc}
    ]
