"""Security hears of a data leak even when a silence kept it from opening an incident.

Intake's quiet gate records each silenced data_leak alert in the audit log (with the alert,
in one transaction) and hands it here once the transaction commits. This sends it through
the same channels `notify_security_team` uses for the alert's systems (their webhooks,
PagerDuty, security contacts, and `notifications.security_contacts`), in a background
thread so that intake does not wait on SMTP retries, and records what was delivered as a
`data_leak_silenced_reported` audit event.

Weak spot: the sending is not durable. A crash between the commit and the send loses the
message (never the audit event, which says the leak was silenced and is to be reported).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from defib.actions.base import ActionContext
from defib.actions.environment import ActionEnvironment
from defib.actions.notify import NotifyAction
from defib.events import RecordedKind
from defib.integrations.base import DeliveryFailed, RetryPolicy, deliver
from defib.silences.service import SilencedLeak
from defib.store import audit as audit_repo

log = logging.getLogger(__name__)

REPORTED = "data_leak_silenced_reported"


async def _no_timeline(kind: RecordedKind, data: Mapping[str, Any], key: str) -> None:
    """Nothing to write: the leak has no incident; the audit log gets the outcome."""


class SilencedLeakTeller:
    """`on_leak` for the silence service: tells security, off intake's thread."""

    def __init__(self, env: ActionEnvironment) -> None:
        self.env = env
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def tell(self, leaks: Sequence[SilencedLeak]) -> None:
        thread = threading.Thread(
            target=self._run, args=(list(leaks),), name="defib-silenced-leak", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float = 30.0) -> None:
        """Until the messages handed over so far are sent (tests, orderly shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def _run(self, leaks: list[SilencedLeak]) -> None:
        for leak in leaks:
            try:
                outcome = asyncio.run(self._send(leak))
            except Exception as exc:  # a notifier bug must not take the thread's other leaks
                log.exception("telling security of a silenced data leak failed")
                outcome = {"sent": [], "failed": [{"error": f"{type(exc).__name__}: {exc}"}]}
            with self.env.db.write() as conn:
                audit_repo.append(
                    conn,
                    audit_repo.AuditEvent(
                        self.env.clock(),
                        "defib",
                        REPORTED,
                        leak.dedup_key or leak.title,
                        {"title": leak.title, "silenced_by": list(leak.silence_ids), **outcome},
                    ),
                )

    def _context(self, leak: SilencedLeak) -> ActionContext:
        incident = {
            "id": "silenced data leak",
            "type": "data_leak",
            "severity": leak.severity,
            "status": "silenced",
            "title": leak.title,
            "systems": list(leak.systems),
        }
        return ActionContext(
            run_id="silenced-leak",
            step_index=0,
            step_name="tell_security",
            generation=0,
            attempt=1,
            idempotency_key=f"silenced-leak:{leak.dedup_key or leak.at.isoformat()}",
            incident=incident,
            params={},
            timeout_seconds=self.env.settings.notifications.timeout_seconds,
            timeline=_no_timeline,
            env=self.env,
        )

    async def _send(self, leak: SilencedLeak) -> dict[str, Any]:
        settings = self.env.settings
        ctx = self._context(leak)
        retries = settings.notifications.retries
        policy = RetryPolicy(retries.attempts, retries.backoff_seconds, retries.max_backoff_seconds)
        sent: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        async with self.env.http_client() as client:
            plan = NotifyAction("notify_security_team", security=True).plan(ctx, settings, client)
            text = (
                f"A data_leak alert ({leak.severity}) on {', '.join(leak.systems) or 'no system'}"
                f" was kept from opening an incident by silence(s)"
                f" {', '.join(leak.silence_ids)}: {leak.title}. Security is told whatever is"
                " silenced; declare an incident if it needs one."
            )
            # No incident to link to: the console's alert list shows the silenced alert.
            alerts = settings.incident_link("x").rsplit("/incidents/", 1)[0] + "/alerts"
            notice = dataclasses.replace(plan.notice, text=text, link=alerts)
            for target in plan.targets:
                if target.notifier is None or target.problem is not None:
                    failed.append({"target": target.label, "error": target.problem})
                    continue
                try:
                    await deliver(
                        target.notifier, notice, f"{ctx.idempotency_key}:{target.id}", policy
                    )
                except DeliveryFailed as exc:
                    failed.append({"target": target.label, "error": str(exc)})
                else:
                    sent.append({"target": target.label, "channel": target.channel})
        if not plan.targets:
            failed.append({"error": "no security contact or channel is configured"})
        return {"sent": sent, "failed": failed}
