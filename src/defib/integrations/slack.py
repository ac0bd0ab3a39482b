"""Slack incoming webhooks: a Block Kit summary of the incident."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from defib.integrations.base import Notice, mask_url
from defib.integrations.http import post, status_detail
from defib.integrations.signing import IDEMPOTENCY_HEADER

# action_id of defib's buttons; /integrations/slack/actions dispatches on them.
ACKNOWLEDGE, APPROVE, REJECT = "defib_acknowledge", "defib_approve", "defib_reject"


@dataclass(frozen=True, slots=True)
class ApprovalAsk:
    """A playbook step waiting for a person, as a Slack message shows it."""

    incident_id: str
    title: str
    run_id: str
    index: int
    step: str
    role: str
    deadline: str
    asks: str
    link: str


_SEVERITY_EMOJI = {"SEV1": ":red_circle:", "SEV2": ":large_orange_circle:"}


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(notice: Notice) -> dict[str, Any]:
    """The message: a header, the text, fields (type, severity, systems, status), a link."""
    systems = ", ".join(notice.systems) or "(none named)"
    emoji = _SEVERITY_EMOJI.get(notice.severity, ":large_yellow_circle:")
    header = f"{notice.incident_id} {notice.severity} {notice.type}: {notice.title}"
    if notice.security:
        header = "Security: " + header
    return {
        "text": escape(notice.subject),  # the notification fallback
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{emoji} {escape(notice.text)[:2900]}"},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Type*\n{escape(notice.type)}"},
                    {"type": "mrkdwn", "text": f"*Severity*\n{escape(notice.severity)}"},
                    {"type": "mrkdwn", "text": f"*Systems*\n{escape(systems)[:1900]}"},
                    {"type": "mrkdwn", "text": f"*Status*\n{escape(notice.status)}"},
                ],
            },
            {
                "type": "actions",
                "block_id": "defib_incident",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": f"Open {notice.incident_id}"},
                        "url": notice.link,
                        "action_id": "defib_open",
                    },
                    # Pressed in Slack, it comes back signed to /integrations/slack/actions.
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "style": "primary",
                        "action_id": ACKNOWLEDGE,
                        "value": notice.incident_id,
                    },
                ],
            },
        ],
    }


def approval_blocks(ask: ApprovalAsk) -> dict[str, Any]:
    """A step waiting for a decision, with Approve and Reject buttons."""
    header = f"{ask.incident_id}: step {ask.step} waits for approval"
    value = f"{ask.run_id}:{ask.index}"
    lines = [f"*{escape(ask.title)}*", f"Needs role *{escape(ask.role)}* by {ask.deadline}."]
    if ask.asks:
        lines.append(escape(ask.asks)[:2000])
    return {
        "text": escape(header),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
            {
                "type": "actions",
                "block_id": "defib_approval",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": f"Open {ask.incident_id}"},
                        "url": ask.link,
                        "action_id": "defib_open",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "style": "primary",
                        "action_id": APPROVE,
                        "value": value,
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Reject"},
                        "style": "danger",
                        "action_id": REJECT,
                        "value": value,
                    },
                ],
            },
        ],
    }


def settled(original: Mapping[str, Any], outcome: str) -> dict[str, Any]:
    """The message after a button was pressed: its buttons replaced by what happened."""
    blocks_ = [b for b in original.get("blocks", ()) if b.get("type") != "actions"]
    blocks_.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(outcome)}]})
    return {"replace_original": True, "text": escape(outcome), "blocks": blocks_}


@dataclass(frozen=True, slots=True)
class SlackWebhook:
    client: httpx.AsyncClient
    url: str
    channel: str = "slack"

    @property
    def target(self) -> str:
        return mask_url(self.url)

    async def send_once(self, notice: Notice, idempotency_key: str) -> Mapping[str, Any]:
        # Slack itself ignores Idempotency-Key; relays and our receivers honour it.
        body = json.dumps(blocks(notice), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "defib-notify",
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        response = await post(self.client, self.url, body, headers)
        return status_detail(response)
