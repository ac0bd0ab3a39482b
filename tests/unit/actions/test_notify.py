"""notify_team / notify_security_team run by the engine against loopback peers, both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.playbooks.runs import RunStatus
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer, MailPeer, Request
from tests.support.engine import declare, only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def deliveries(peer: HttpPeer, path: str | None = None) -> list[Request]:
    """The notify steps' deliveries: without the Slack notice that a run needs attention
    (the generic playbook's performance incidents end unverified), which has no key."""
    return [r for r in peer.requests if r.key is not None and path in (None, r.path)]


def events(rt: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in rt.incidents.timeline(incident_id) if e.kind == kind]


def seed(
    rt: Runtime, incident_id: str, run_id: str, rows: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """Put (kind, idempotency key, data) events on the timeline as the run's, before it runs:
    what an earlier execution left behind."""
    from defib.clock import utcnow
    from defib.model import TimelineEvent
    from defib.store import incidents as incident_repo

    seq = rt.incidents.get(incident_id).seq
    with rt.db.write() as conn:
        for kind, key, data in rows:
            event = TimelineEvent(utcnow(), f"run:{run_id}", kind, data)
            incident_repo.append_event(conn, seq, event, idempotency_key=key)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")


def test_notify_team_reaches_every_channel_once(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """The generic playbook's notify_team posts Slack, webhook, PagerDuty and one email, each
    keyed `<run>:<step>:<channel>:<hash>`, and puts each delivery on the timeline."""
    rt = make_runtime(**systems_config(http_peer, mail_peer))
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, systems=("chat-api",), title="p99 latency 9s")
    run = wait_run(rt, only_run(rt, inc).id)
    step = run.steps[0]
    assert step.name == "notify_team" and step.status is RunStatus.SUCCEEDED, step
    assert step.output is not None and step.output["sent"] == 4
    paths = sorted(r.path for r in deliveries(http_peer))
    assert paths == ["/hook", "/pd/v2/enqueue", "/slack/T000/B000/XXXX"]
    keys = [r.key for r in deliveries(http_peer)]
    assert all(k is not None and k.startswith(f"{run.id}:0:") for k in keys)
    assert len(set(keys)) == 3
    pd = deliveries(http_peer, "/pd/v2/enqueue")[0].json()
    assert pd["dedup_key"] == inc and pd["payload"]["severity"] == "error"
    (mail,) = mail_peer.mails
    assert sorted(mail.rcpt_tos) == ["lead@example.com", "oncall@example.com"]
    assert mail.message["X-Defib-Idempotency-Key"].startswith(f"{run.id}:0:email:")
    sent = events(rt, inc, "run_step_notification_sent")
    assert sorted(e["channel"] for e in sent) == ["email", "pagerduty", "slack", "webhook"]
    assert all("XXXX" not in json.dumps(e) for e in sent)  # webhook paths are secrets


def test_failures_are_on_the_timeline_and_the_step_retries_only_what_failed(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """A 400 from Slack fails the attempt (recorded); the engine's retry of the step sends
    Slack again but not the deliveries that already succeeded."""
    http_peer.script["/slack/T000/B000/XXXX"] = [400]
    rt = make_runtime(**systems_config(http_peer, mail_peer))
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, systems=("chat-api",))
    run = wait_run(rt, only_run(rt, inc).id)
    step = run.steps[0]
    assert step.status is RunStatus.SUCCEEDED and step.attempts == 2, step
    assert len(deliveries(http_peer, "/slack/T000/B000/XXXX")) == 2  # 400 is not retried in-attempt
    assert len(deliveries(http_peer, "/hook")) == 1
    assert len(deliveries(http_peer, "/pd/v2/enqueue")) == 1
    assert len(mail_peer.mails) == 1
    (failed,) = events(rt, inc, "run_step_notification_failed")
    assert failed["channel"] == "slack" and failed["retryable"] is False
    assert "HTTP 400" in failed["error"]
    assert len(events(rt, inc, "run_step_notification_sent")) == 4
    # The failed attempt's intent has its failure: the second send is no repeat.
    assert not any(e.get("in_doubt") for e in events(rt, inc, "run_step_notification_sent"))


def test_notify_security_team_emails_security_contacts_and_pages(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """A data leak pages PagerDuty and emails the security contacts, not the team's Slack."""
    config = systems_config(http_peer, mail_peer)
    config["notifications"]["security_contacts"] = ["ciso@example.com"]
    rt = make_runtime(**config)
    start_worker(rt)
    inc = declare(rt, IncidentType.DATA_LEAK, systems=("chat-api",), title="SSNs in replies")
    run = wait_run(
        rt, only_run(rt, inc).id, until=lambda r: r.steps[2].status is not RunStatus.PENDING
    )
    notify = run.steps[1]
    assert notify.name == "notify_security_team" and notify.status is RunStatus.SUCCEEDED
    assert deliveries(http_peer, "/slack/T000/B000/XXXX") == []
    (mail,) = mail_peer.mails
    assert sorted(mail.rcpt_tos) == ["ciso@example.com", "security@example.com"]
    assert mail.message["Subject"].startswith("[security] ")
    assert deliveries(http_peer, "/pd/v2/enqueue")[0].json()["payload"]["custom_details"][
        "security"
    ]


def test_unknown_systems_skip_with_a_reason(
    make_runtime: Callable[..., Runtime], start_worker: Callable[[Runtime], None]
) -> None:
    """An incident on a system nobody configured: notify is skipped and the timeline says why."""
    rt = make_runtime()
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, systems=("mystery",))
    run = wait_run(rt, only_run(rt, inc).id)
    assert run.steps[0].status is RunStatus.SKIPPED
    (skipped,) = events(rt, inc, "run_step_notification_skipped")
    assert "mystery" in skipped["reason"] and "systems: config" in skipped["reason"]


def test_missing_smtp_config_fails_the_email_not_the_rest(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
) -> None:
    """Owners with emails but no notifications.smtp: the email fails (named), others go out."""
    config = systems_config(http_peer, None)
    rt = make_runtime(**config)
    start_worker(rt)
    inc = declare(rt, IncidentType.PERFORMANCE, systems=("chat-api",))
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    step = run.steps[0]
    assert step.status is RunStatus.FAILED
    assert "notifications.smtp is not configured" in (step.error or "")
    assert len(deliveries(http_peer, "/hook")) == 1  # not re-sent by the step's retries
    assert len(events(rt, inc, "run_step_notification_sent")) == 3


def test_each_send_is_announced_first_and_a_resend_after_a_crash_is_marked_in_doubt(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """What a crash between Slack's send and its confirmation leaves (the attempt's intent on
    the timeline, no outcome): the re-executed step sends Slack again under the same key and
    marks that confirmation in_doubt; the other channels, never announced, are not."""
    from defib.actions.intent import SENDING
    from defib.actions.notify import _target_id

    config = systems_config(http_peer, mail_peer)
    rt = make_runtime(**config)
    inc = declare(rt, IncidentType.PERFORMANCE, systems=("chat-api",), title="p99 latency 9s")
    run_id = only_run(rt, inc).id  # pending: no worker yet
    slack = _target_id("slack", config["systems"][0]["owners"]["slack_webhook"])
    seed(
        rt,
        inc,
        run_id,
        [
            (
                SENDING,
                f"{run_id}:0:notify:{slack}:intent:1",
                {"channel": "slack", "idempotency_key": f"{run_id}:0:{slack}"},
            )
        ],
    )
    start_worker(rt)
    run = wait_run(rt, run_id)
    assert run.steps[0].status is RunStatus.SUCCEEDED, run.steps[0]
    sent = {e["channel"]: e for e in events(rt, inc, "run_step_notification_sent")}
    assert sent["slack"].get("in_doubt") is True
    assert not any(e.get("in_doubt") for c, e in sent.items() if c != "slack")
    (resent,) = deliveries(http_peer, "/slack/T000/B000/XXXX")
    assert resent.key == sent["slack"]["idempotency_key"] == f"{run_id}:0:{slack}"
    # Every send was announced before it went out, with the key the peer saw.
    intents = events(rt, inc, SENDING)
    assert sorted(e["channel"] for e in intents) == ["email", "pagerduty", "slack", "webhook"]
    announced = {e.get("idempotency_key") for e in intents}
    assert {r.key for r in deliveries(http_peer)} <= announced
    (mail,) = mail_peer.mails
    assert mail.message["X-Defib-Idempotency-Key"] in announced


@pytest.mark.parametrize("failure_recorded", [False, True], ids=["cut-off", "failed"])
def test_an_earlier_attempts_unfinished_send_marks_the_resend_in_doubt(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
    failure_recorded: bool,
) -> None:
    """An intent left by another attempt (one a step timeout cut off mid-send, or the
    original workflow's before a re-drive restarted the count) makes the send in_doubt
    unless that attempt recorded its failure."""
    from defib.actions.intent import SENDING
    from defib.actions.notify import FAILED, _target_id

    config = systems_config(http_peer, mail_peer)
    rt = make_runtime(**config)
    inc = declare(rt, IncidentType.PERFORMANCE, systems=("chat-api",), title="p99 latency 9s")
    run_id = only_run(rt, inc).id  # pending: no worker yet
    slack = _target_id("slack", config["systems"][0]["owners"]["slack_webhook"])
    seeded = [(SENDING, f"{run_id}:0:notify:{slack}:intent:7", {"channel": "slack"})]
    if failure_recorded:
        seeded.append((FAILED, f"{run_id}:0:notify:{slack}:failed:7", {"channel": "slack"}))
    seed(rt, inc, run_id, seeded)
    start_worker(rt)
    run = wait_run(rt, run_id)
    assert run.steps[0].status is RunStatus.SUCCEEDED, run.steps[0]
    sent = {e["channel"]: e for e in events(rt, inc, "run_step_notification_sent")}
    assert bool(sent["slack"].get("in_doubt")) is not failure_recorded
    assert not any(e.get("in_doubt") for c, e in sent.items() if c != "slack")
    assert len(deliveries(http_peer, "/slack/T000/B000/XXXX")) == 1
