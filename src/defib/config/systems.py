"""The `systems:` section: each AI system defib protects, its owners, how it is contained
(`control`), where its model versions live (`registry`, `versions`) and how a fix is
verified (`probes`, `verification`). `default_owners:` has the shape of `Owners`."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from defib.config.fields import Email, EnvName, HttpUrl, Section
from defib.config.gateway import GatewaySystemConfig
from defib.model import IncidentType

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class WebhookTarget(Section):
    """A generic webhook: JSON POST signed with HMAC-SHA256 when `secret_env` is set."""

    url: HttpUrl
    secret_env: EnvName | None = Field(
        default=None, description="Environment variable holding the signing secret."
    )


class Owners(Section):
    """Who owns a system and how to reach them."""

    team: str | None = None
    slack_webhook: HttpUrl | None = Field(default=None, description="Slack incoming webhook.")
    emails: list[Email] = Field(default_factory=list)
    pagerduty_routing_key: str | None = Field(default=None, min_length=1, max_length=64)
    security_contacts: list[Email] = Field(
        default_factory=list, description="Emailed by notify_security_team."
    )
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    escalation_policy: str | None = Field(
        default=None, description="Pages on call per this policy (a name in escalation_policies)."
    )


class ControlConfig(Section):
    """How defib contains a system: its own gateway, or a control plane the team runs.

    `http`: defib POSTs `{"action", "system", "incident", "idempotency_key", ...}` to `url`,
    signed with HMAC-SHA256 when `secret_env` is set.
    """

    kind: Literal["gateway", "http"] = "gateway"
    url: HttpUrl | None = None
    secret_env: EnvName | None = None

    @model_validator(mode="after")
    def _needs_url(self) -> ControlConfig:
        if self.kind == "http" and self.url is None:
            raise ValueError("url is required when kind is http")
        return self


class ModelVersionConfig(Section):
    """One deployable version of a system's model, as the gateway routes to it."""

    name: str = Field(min_length=1, max_length=200)
    upstream: HttpUrl | None = Field(
        default=None, description="OpenAI-compatible base URL, e.g. http://host:9000/v1."
    )
    model: str | None = Field(
        default=None, description="Model name sent upstream (default: the client's)."
    )
    api_key_env: EnvName | None = Field(
        default=None, description="Environment variable holding the upstream's API key."
    )


class RegistryConfig(Section):
    """Where a system's model versions live and how a rollback deploys one.

    `gateway`: the `versions` below, routed by defib's gateway. `mlflow`: a registered
    model whose `alias` is re-pointed (extra `defib[mlflow]`). `http`: a signed POST of
    `{"action": "rollback", "from_version", "to_version", ...}` to `url`.
    """

    kind: Literal["gateway", "mlflow", "http"] = "gateway"
    tracking_uri: str | None = None
    model_name: str | None = None
    alias: str = "production"
    url: HttpUrl | None = None
    secret_env: EnvName | None = None
    good_after_seconds: int = Field(
        default=86400,
        ge=0,
        description="A version that served this long without an incident counts as known-good.",
    )

    @model_validator(mode="after")
    def _complete(self) -> RegistryConfig:
        if self.kind == "mlflow" and not self.model_name:
            raise ValueError("model_name is required when kind is mlflow")
        if self.kind == "http" and self.url is None:
            raise ValueError("url is required when kind is http")
        return self


class ProbeConfig(Section):
    """One check verify_endpoint runs through the system's endpoint."""

    prompt: str = Field(min_length=1)
    must_contain: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    no_findings: bool = Field(default=True, description="No PII, secret or toxicity findings.")
    max_latency_ms: float | None = Field(default=None, gt=0)
    types: list[IncidentType] = Field(
        default_factory=list,
        description="Incident types this probe's passing proves fixed. Default none: an"
        " untyped probe is a general check that must pass beside a content incident's own"
        " evidence (a replay or a probe naming its type) but proves no type fixed alone;"
        " performance and availability incidents never run it.",
    )


class VerificationConfig(Section):
    """How long defib's own measurement must show a performance or availability objective
    met before verify_endpoint calls it verified: its probes naming the type must pass on
    every round for `hold_seconds`, probed every `interval_seconds`. One quick answer is no
    evidence that a latency or reachability problem is over; a failing round starts the
    hold again. A step's `params` (`hold_seconds`, `interval_seconds`, `wait_seconds`)
    override these."""

    hold_seconds: float = Field(
        default=60,
        ge=0,
        le=3600,
        description="How long the probes must keep passing (0: one passing round).",
    )
    interval_seconds: float = Field(
        default=5, ge=0.05, le=600, description="Seconds between rounds of probes."
    )


class SystemConfig(Section):
    """One AI system defib protects."""

    name: str
    tier: int = Field(default=3, ge=1, le=4, description="1 = most critical.")
    description: str = ""
    owners: Owners = Field(default_factory=Owners)
    evidence_paths: list[str] = Field(
        default_factory=list, description="Log file globs preserve_evidence copies."
    )
    control: ControlConfig = Field(default_factory=ControlConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    versions: list[ModelVersionConfig] = Field(
        default_factory=list, description="Model versions, oldest first (gateway routing)."
    )
    active_version: str | None = Field(
        default=None, description="The version served at first start (default: the newest)."
    )
    gateway: GatewaySystemConfig = Field(default_factory=GatewaySystemConfig)
    probes: list[ProbeConfig] = Field(default_factory=list)
    verification: VerificationConfig = Field(default_factory=VerificationConfig)
    endpoint: HttpUrl | None = Field(
        default=None,
        description="OpenAI-compatible base URL verify_endpoint probes (default: the gateway).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("must be 1-100 letters, digits, '.', '_' or '-'")
        return v

    @model_validator(mode="after")
    def _versions(self) -> SystemConfig:
        names = [v.name for v in self.versions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"versions: {', '.join(dupes)} named twice")
        known = set(names)
        for key in ("active_version",):
            value = getattr(self, key)
            if value is not None and value not in known:
                raise ValueError(f"{key}: {value!r} is not one of versions")
        fallback = self.gateway.fallback_version
        if fallback is not None and fallback not in known:
            raise ValueError(f"gateway.fallback_version: {fallback!r} is not one of versions")
        return self

    def version(self, name: str) -> ModelVersionConfig | None:
        return next((v for v in self.versions if v.name == name), None)

    @property
    def initial_version(self) -> str | None:
        if self.active_version is not None:
            return self.active_version
        return self.versions[-1].name if self.versions else None
