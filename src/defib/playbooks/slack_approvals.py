"""Slack messages for people: Approve / Reject buttons for a playbook step waiting for a
person, and a run that ended needing attention (what it could not do by itself).

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

from defib.clock import utcnow
from defib.config import Settings
from defib.events import TimelineKind
from defib.integrations.base import mask_url
from defib.integrations.slack import ApprovalAsk, approval_blocks
from defib.integrations.tls import verify_context
from defib.model import Incident, TimelineEvent, format_incident_id
from defib.playbooks.runs import RunStatus, run_actor
from defib.playbooks.waiting import RunNeedsAttention, WaitingStep
from defib.silences import label_sets, silenced_by
from defib.store import incidents as incident_repo
from defib.store import runs as run_repo
from defib.store import silences as silence_repo
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
                        TimelineKind.SLACK_APPROVAL_REQUESTED,
                        {"run_id": waiting.run_id, "step": waiting.step, "to": sent},
                    ),
                    idempotency_key=f"{waiting.run_id}:{waiting.index}:slack-ask:{waiting.deadline}",
                )


class SlackAttentionNotices:
    """Registered with the engine (`on_attention`): a run that ended `needs_attention`, or
    `failed` / `timed_out` (stricter: a step did not do its job at all), says so, with its
    reasons, in the Slack channels of the incident's systems (or of `default_owners`), from
    a thread of its own. Once per run (per generation, for a failed run retried) on the
    timeline."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    def __call__(self, item: RunNeedsAttention) -> None:
        threading.Thread(target=self.send, args=(item,), daemon=True).start()

    def hooks(self, systems: tuple[str, ...]) -> list[str]:
        found = {
            system.owners.slack_webhook
            for name in systems
            if (system := self.settings.system(name)) is not None and system.owners.slack_webhook
        }
        default = self.settings.default_owners
        if not found and default is not None and default.slack_webhook:
            found.add(default.slack_webhook)
        return sorted(found)

    def silenced(self, incident: Incident) -> bool:
        """A silence over the incident keeps the team's channels quiet, as notify_team does."""
        now = utcnow()
        sets = label_sets(
            incident.labels,
            incident.type.value,
            incident.severity.value,
            incident.affected_systems,
        )
        with self.db.read() as conn:
            return bool(silenced_by(silence_repo.list_silences(conn, unexpired_at=now), sets, now))

    def send(self, item: RunNeedsAttention) -> None:
        with self.db.read() as conn:
            incident = incident_repo.get_incident(conn, item.incident_seq)
            run = run_repo.get_run(conn, item.run_id)
        hooks = self.hooks(incident.affected_systems)
        if run.dry_run or not hooks or self.silenced(incident):
            return  # a dry run acted on nothing: nobody has anything to take over
        iid = format_incident_id(incident.seq)
        link = self.settings.incident_link(iid)
        key = f"{item.run_id}:slack-attention"
        if run.status is RunStatus.NEEDS_ATTENTION:
            text = (
                f":warning: {iid} needs attention: playbook {run.playbook} ended without doing"
                f" its job by itself: {run.error or 'see the run'}. {link}"
            )
        else:
            # Failed (or timed out): what the failed steps were for is left to a person.
            text = (
                f":x: {iid}: playbook {run.playbook} {run.status.value}:"
                f" {run.error or 'see the run'}. A person must take over what it did not do"
                f" (retry a step: defib runs retry {run.id}). {link}"
            )
            key = f"{item.run_id}:g{run.generation}:slack-{run.status.value}"
        sent: list[str] = []
        timeout = self.settings.notifications.timeout_seconds
        with httpx.Client(timeout=timeout, verify=verify_context()) as client:
            for url in hooks:
                try:
                    client.post(url, json={"text": text}).raise_for_status()
                    sent.append(mask_url(url))
                except httpx.HTTPError as exc:
                    log.warning("Slack needs-attention notice to %s failed: %s", mask_url(url), exc)
        if sent:
            with self.db.write() as conn:
                incident_repo.append_event(
                    conn,
                    incident.seq,
                    TimelineEvent(
                        utcnow(),
                        run_actor(item.run_id),
                        TimelineKind.SLACK_ATTENTION_SENT,
                        {"run_id": item.run_id, "status": run.status.value, "to": sent},
                    ),
                    idempotency_key=key,
                )
