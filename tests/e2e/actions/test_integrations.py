"""The notification adapters against real loopback peers: payloads, keys, retries."""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from defib.integrations import DeliveryFailed, Notice, RetryPolicy, deliver
from defib.integrations.http import retry_after_seconds
from defib.integrations.pagerduty import PagerDutyEvents
from defib.integrations.signing import verify
from defib.integrations.slack import SlackWebhook
from defib.integrations.smtp import SmtpMailer
from defib.integrations.webhook import SignedWebhook
from defib.testing import free_port
from tests.support.actions.peers import HttpPeer, MailPeer

NOTICE = Notice(
    incident_id="INC-7",
    type="hallucination",
    severity="SEV2",
    status="detected",
    title="Made-up refund policy <b>",
    systems=("chat-api", "rag"),
    link="http://defib.test/api/v1/incidents/INC-7",
    text="INC-7 (SEV2): Made-up refund policy & more",
)
FAST = RetryPolicy(attempts=3, backoff_seconds=0.001, max_backoff_seconds=0.01)


def send(notifier: object, key: str = "run1:1:x", policy: RetryPolicy = FAST) -> object:
    async def go() -> object:
        return await deliver(notifier, NOTICE, key, policy)  # type: ignore[arg-type]

    return asyncio.run(go())


def run_with_client(make: object, key: str = "run1:1:x", policy: RetryPolicy = FAST) -> object:
    async def go() -> object:
        async with httpx.AsyncClient(timeout=5) as client:
            return await deliver(make(client), NOTICE, key, policy)  # type: ignore[operator]

    return asyncio.run(go())


def test_slack_gets_a_block_kit_summary_with_the_key(http_peer: HttpPeer) -> None:
    """Slack receives header, text, type/severity/systems fields and a link, keyed."""
    url = f"{http_peer.url}/services/T1/B1/secret"
    receipt = run_with_client(lambda c: SlackWebhook(c, url))
    (req,) = http_peer.at("/services/T1/B1/secret")
    assert req.key == "run1:1:x"
    body = req.json()
    assert body["text"].startswith("INC-7 SEV2 hallucination")
    header, section, fields, actions = body["blocks"]
    assert header["text"]["text"] == "INC-7 SEV2 hallucination: Made-up refund policy <b>"
    assert "&amp; more" in section["text"]["text"]  # mrkdwn is escaped
    texts = [f["text"] for f in fields["fields"]]
    assert texts[:3] == ["*Type*\nhallucination", "*Severity*\nSEV2", "*Systems*\nchat-api, rag"]
    assert actions["elements"][0]["url"] == NOTICE.link
    assert receipt.target == f"{http_peer.url}/…"  # type: ignore[attr-defined]


def test_webhook_is_signed_with_the_shared_secret(http_peer: HttpPeer) -> None:
    """The generic webhook carries Standard Webhooks headers: the id is the idempotency key,
    the signature covers id, timestamp and body, and a tampered body fails it."""
    run_with_client(lambda c: SignedWebhook(c, f"{http_peer.url}/hook", "s3cret"))
    (req,) = http_peer.at("/hook")
    headers = {k: req.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert verify(req.body, "s3cret", headers)
    assert headers["webhook-id"] == "run1:1:x"
    assert not verify(req.body.replace(b"INC-7", b"INC-8"), "s3cret", headers)
    assert not verify(req.body, "other", headers)
    assert req.json()["incident_id"] == "INC-7"
    assert req.json()["idempotency_key"] == "run1:1:x"


def test_pagerduty_trigger_and_resolve_use_the_incident_as_dedup_key(http_peer: HttpPeer) -> None:
    """PagerDuty Events v2: trigger with dedup_key = incident id and a mapped severity."""
    http_peer.default = 202
    url = f"{http_peer.url}/v2/enqueue"
    run_with_client(lambda c: PagerDutyEvents(c, "KEY", url))

    async def resolve() -> None:
        async with httpx.AsyncClient() as client:
            await PagerDutyEvents(client, "KEY", url).resolve("INC-7", "run1:9")

    asyncio.run(resolve())
    trigger, resolved = (r.json() for r in http_peer.at("/v2/enqueue"))
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == "INC-7"
    assert trigger["routing_key"] == "KEY"
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["source"] == "chat-api,rag"
    assert resolved == {"routing_key": "KEY", "event_action": "resolve", "dedup_key": "INC-7"}


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_are_retried_with_the_same_key(http_peer: HttpPeer, status: int) -> None:
    """A throttled or failing receiver is tried again, with the same Idempotency-Key."""
    http_peer.script["/hook"] = [status, status]
    receipt = run_with_client(lambda c: SignedWebhook(c, f"{http_peer.url}/hook"))
    keys = [r.key for r in http_peer.at("/hook")]
    assert keys == ["run1:1:x"] * 3
    assert receipt.attempts == 3  # type: ignore[attr-defined]
    assert http_peer.effects["run1:1:x"] == 1


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_other_4xx_fail_at_once(http_peer: HttpPeer, status: int) -> None:
    """A 4xx other than 429 is final: one attempt, not retryable."""
    http_peer.default = status
    with pytest.raises(DeliveryFailed) as info:
        run_with_client(lambda c: SignedWebhook(c, f"{http_peer.url}/hook"))
    assert info.value.attempts == 1 and not info.value.error.retryable
    assert len(http_peer.at("/hook")) == 1


def test_retry_after_as_an_http_date_is_waited_for(http_peer: HttpPeer) -> None:
    """A 429 whose Retry-After is an HTTP date two seconds ahead delays the retry until then
    (a date once read as 0 seconds retried at once)."""
    ahead = datetime.now(UTC) + timedelta(seconds=2)
    http_peer.retry_after = format_datetime(ahead, usegmt=True)
    http_peer.script["/hook"] = [429]
    policy = RetryPolicy(attempts=2, backoff_seconds=0.001, max_backoff_seconds=30)
    started = time.monotonic()
    receipt = run_with_client(lambda c: SignedWebhook(c, f"{http_peer.url}/hook"), policy=policy)
    assert receipt.attempts == 2  # type: ignore[attr-defined]
    # The date has whole seconds: the wait is between one and two seconds.
    assert time.monotonic() - started >= 1.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    """RFC 9110: delta-seconds or an HTTP date; past, absent or unreadable means no wait."""
    now = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("Sat, 28 Nov 2026 10:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sat, 28 Nov 2026 09:59:00 GMT", now) == 0.0
    assert retry_after_seconds("-3", now) == 0.0
    assert retry_after_seconds("soon", now) == 0.0
    assert retry_after_seconds(None, now) == 0.0


def test_retries_give_up_after_the_policy(http_peer: HttpPeer) -> None:
    """A receiver that keeps failing is tried `attempts` times, then the delivery fails."""
    http_peer.default = 502
    with pytest.raises(DeliveryFailed) as info:
        run_with_client(lambda c: SignedWebhook(c, f"{http_peer.url}/hook"))
    assert info.value.attempts == 3 and info.value.error.retryable


def test_network_errors_are_retried() -> None:
    """Nobody listening: a connection error, retried, then reported."""
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryFailed) as info:
        run_with_client(lambda c: SignedWebhook(c, url))
    assert info.value.attempts == 3
    assert "ConnectError" in str(info.value)


def test_email_reaches_a_real_smtp_server_with_the_key(mail_peer: MailPeer) -> None:
    """SMTP: one message to every recipient, Message-ID and X-Defib-Idempotency-Key set."""
    mailer = SmtpMailer("127.0.0.1", mail_peer.port, "defib@example.org", ("a@x.org", "b@x.org"))
    send(mailer, key="run1:1:email:abc")
    (mail,) = mail_peer.mails
    assert sorted(mail.rcpt_tos) == ["a@x.org", "b@x.org"]
    assert mail.message["X-Defib-Idempotency-Key"] == "run1:1:email:abc"
    assert mail.message["Message-ID"] == "<run1.1.email.abc@example.org>"
    assert mail.message["Subject"].startswith("INC-7 SEV2 hallucination")
    assert NOTICE.link in mail.message.get_payload()


def test_email_4xx_is_retried_5xx_is_not(mail_peer: MailPeer) -> None:
    """A 451 from the server is tried again; a 554 is final."""
    mailer = SmtpMailer("127.0.0.1", mail_peer.port, "defib@example.org", ("a@x.org",))
    mail_peer.fail_codes = ["451 try later"]
    assert send(mailer).attempts == 2  # type: ignore[attr-defined]
    mail_peer.fail_codes = ["554 no"]
    with pytest.raises(DeliveryFailed) as info:
        send(mailer)
    assert info.value.attempts == 1 and info.value.error.status == 554


def test_email_over_starttls(cert: tuple[Path, Path]) -> None:
    """With starttls the session is encrypted before the message (server requires it)."""
    peer = MailPeer(cert, require_tls=True).start()
    try:
        context = ssl.create_default_context(cafile=str(cert[0]))
        mailer = SmtpMailer(
            "127.0.0.1", peer.port, "d@x.org", ("a@x.org",), starttls=True, ssl_context=context
        )
        send(mailer)
        plain = SmtpMailer("127.0.0.1", peer.port, "d@x.org", ("a@x.org",))
        with pytest.raises(DeliveryFailed):
            send(plain)
    finally:
        peer.stop()
    assert peer.tls_seen == [True]
