"""Slack messages with Approve / Reject buttons for a playbook step waiting for a person.

Registered with the engine (`PlaybookEngine.on_waiting`); posts to the Slack webhooks of
the incident's systems from a thread of its own, so the run never waits on Slack. The ask
lands on the incident's timeline once (keyed by run and step). A crash between the step
starting to wait and this post loses the Slack message, not the approval: the step still
waits and can be decided from the console, the CLI or the API.
"""

from __future__ import annotations

import logging
import threading

import httpx

from defib.config import Settings
from defib.integrations.base import mask_url
from defib.integrations.slack import ApprovalAsk, approval_blocks
from defib.integrations.tls import verify_context
from defib.model import TimelineEvent, format_incident_id
from defib.playbooks.waiting import WaitingStep
from defib.service import utcnow
from defib.store import incidents as incident_repo
from defib.store.database import Database

log = logging.getLogger(__name__)


class SlackApprovalRequests:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    def __call__(self, waiting: WaitingStep) -> None:
        threading.Thread(target=self.send, args=(waiting,), daemon=True).start()

    def send(self, waiting: WaitingStep) -> None:
        with self.db.read() as conn:
            incident = incident_repo.get_incident(conn, waiting.incident_seq)
        hooks = sorted(
            {
                system.owners.slack_webhook
                for name in incident.affected_systems
                if (system := self.settings.system(name)) is not None
                and system.owners.slack_webhook
            }
        )
        if not hooks:
            return
        iid = format_incident_id(incident.seq)
        body = approval_blocks(
            ApprovalAsk(
                incident_id=iid,
                title=incident.title,
                run_id=waiting.run_id,
                index=waiting.index,
                step=waiting.step,
                role=waiting.role,
                deadline=waiting.deadline,
                asks=waiting.asks,
                link=self.settings.incident_link(iid),
            )
        )
        sent: list[str] = []
        timeout = self.settings.notifications.timeout_seconds
        with httpx.Client(timeout=timeout, verify=verify_context()) as client:
            for url in hooks:
                try:
                    client.post(url, json=body).raise_for_status()
                    sent.append(mask_url(url))
                except httpx.HTTPError as exc:
                    log.warning("Slack approval ask to %s failed: %s", mask_url(url), exc)
        if sent:
            with self.db.write() as conn:
                incident_repo.append_event(
                    conn,
                    incident.seq,
                    TimelineEvent(
                        utcnow(),
                        "system",
                        "slack_approval_requested",
                        {"run_id": waiting.run_id, "step": waiting.step, "to": sent},
                    ),
                    idempotency_key=f"{waiting.run_id}:{waiting.index}:slack-ask:{waiting.deadline}",
                )
