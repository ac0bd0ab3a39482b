"""The `notifications:` and `slack:` sections: how defib reaches people (SMTP, PagerDuty,
webhooks, retries, affected users' addresses) and who may press its Slack buttons."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from defib.config.fields import Email, EnvName, HttpUrl, Section


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    from_address: Email = Field(default="defib@localhost.localdomain", alias="from")
    starttls: bool = False
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    # A CA bundle for STARTTLS to servers with a private CA (tests, internal relays).
    ca_file: Path | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PagerDutySettings(Section):
    events_url: HttpUrl = "https://events.pagerduty.com/v2/enqueue"
    webhook_secret_env: EnvName | None = Field(
        default=None,
        description="Environment variable holding the signing secret of PagerDuty's v3"
        " webhook subscription (POST /api/v1/integrations/pagerduty/webhook); unset: refused.",
    )


class RetrySettings(Section):
    """Retries of one delivery (429, 5xx, network errors); other 4xx are final."""

    attempts: int = Field(default=4, ge=1, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=10.0, ge=0)


class AffectedUsersDirectory(Section):
    """Where affected users' email addresses come from: the operator, never the traffic.

    A user id in a capture or an alert is whatever the client sent (`user`), so mailing it
    would let a client direct breach notices anywhere (issue 11). Addresses come from
    `directory` (a mapping), `directory_file` (a YAML/JSON mapping, read when needed) or
    `lookup_url` (POST `{"user_ids": [...], "incident": ...}` -> `{"addresses": {id:
    address}}`, signed with HMAC-SHA256 when `lookup_secret_env` is set), in that order.
    """

    directory: dict[str, Email] = Field(default_factory=dict)
    directory_file: Path | None = None
    lookup_url: HttpUrl | None = None
    lookup_secret_env: EnvName | None = None
    allowed_domains: list[str] = Field(
        default_factory=list,
        description="If set, only addresses at these domains are mailed.",
    )

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        return [d.strip().lower().lstrip("@") for d in v if d.strip()]


class NotificationSettings(Section):
    smtp: SmtpSettings | None = None
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per HTTP request.")
    security_contacts: list[Email] = Field(
        default_factory=list, description="Emailed for every security incident, any system."
    )
    affected_users: AffectedUsersDirectory = Field(default_factory=AffectedUsersDirectory)


class SlackUser(Section):
    """The defib actor a Slack user acts as when pressing defib's buttons."""

    actor: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "responder", "admin"] = "responder"


class SlackAppSettings(Section):
    """Slack's interactive callbacks (Acknowledge, Approve, Reject buttons)."""

    signing_secret_env: EnvName = Field(
        default="SLACK_SIGNING_SECRET",
        description="Environment variable holding the Slack app's signing secret.",
    )
    users: dict[str, SlackUser | str] = Field(
        default_factory=dict,
        description="Slack user id -> defib actor (a name, or {actor, role}); others are refused.",
    )

    def user(self, slack_id: str) -> SlackUser | None:
        found = self.users.get(slack_id)
        if isinstance(found, str):
            return SlackUser(actor=found)
        return found
