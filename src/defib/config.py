"""Typed settings: one YAML file plus `DEFIB_*` environment variables.

Precedence, highest first: explicit keyword arguments, environment variables, the YAML
file (`--config` or `DEFIB_CONFIG`), defaults. Every error names the key that is wrong.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import HttpUrl as PydanticHttpUrl
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from defib.model import IncidentType
from defib.oncall.config import (
    EscalationPolicyConfig,
    PersonConfig,
    ScheduleConfig,
    check_references,
)

if TYPE_CHECKING:
    from defib.silences.schedule import Weekly

ENV_PREFIX = "DEFIB_"


class ConfigError(Exception):
    """The configuration is invalid; the message names the key."""


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


_EMAIL_STR: TypeAdapter[str] = TypeAdapter(EmailStr)
_HTTP_URL: TypeAdapter[PydanticHttpUrl] = TypeAdapter(PydanticHttpUrl)
# Domains email-validator refuses as special-use, but that a team's private mail network
# (or a test) uses: oncall@mail.corp.local, ops@localhost.
_PRIVATE_MAIL_DOMAINS = ("local", "localhost", "test", "internal")


def _first_message(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"])


def _email(v: str) -> str:
    """pydantic's EmailStr check (email-validator, no DNS), allowing private domains.

    Errors name the exact key, e.g. `systems.0.owners.emails.1`.
    """
    local, at, domain = v.rpartition("@")
    private = at and domain.rsplit(".", 1)[-1].lower() in _PRIVATE_MAIL_DOMAINS
    # A private domain is checked for syntax as if it were under a public one.
    probe = f"{local}@{domain}.example.com" if private else v
    try:
        checked = _EMAIL_STR.validate_python(probe)
    except ValidationError as exc:
        raise ValueError(f"not an email address: {v!r} ({_first_message(exc)})") from exc
    return v if private else checked


def _http_url(v: str) -> str:
    """pydantic's HttpUrl check; the text is kept as written (HttpUrl would add a `/`)."""
    try:
        _HTTP_URL.validate_python(v)
    except ValidationError as exc:
        raise ValueError(f"must be an http(s) URL ({_first_message(exc)})") from exc
    return v


def _env_name(v: str) -> str:
    if not _ENV_NAME.match(v):
        raise ValueError("must be the name of an environment variable")
    return v


Email = Annotated[str, AfterValidator(_email)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookTarget(_Section):
    """A generic webhook: JSON POST signed with HMAC-SHA256 when `secret_env` is set."""

    url: HttpUrl
    secret_env: EnvName | None = Field(
        default=None, description="Environment variable holding the signing secret."
    )


class Owners(_Section):
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


class ControlConfig(_Section):
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


class ModelVersionConfig(_Section):
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


class RegistryConfig(_Section):
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


class CaptureConfig(_Section):
    """Which completions the gateway keeps, and how."""

    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    mask_pii: bool = Field(default=True, description="Mask PII and secrets at rest.")
    retention_days: int = Field(default=30, ge=1)


InlineDetector = Literal["pii", "toxicity", "grounding"]
INLINE_DETECTORS: tuple[InlineDetector, ...] = ("pii", "toxicity", "grounding")


class GatewaySloConfig(_Section):
    """Service-level objectives the gateway measures per system (SLO burn-rate alerts)."""

    availability_target: float = Field(
        default=0.999, gt=0, lt=1, description="Share of requests answered without a 5xx."
    )
    latency_threshold_ms: float = Field(
        default=10_000.0, gt=0, description="A request slower than this counts against latency."
    )
    latency_target: float = Field(
        default=0.99, gt=0, lt=1, description="Share of requests faster than the threshold."
    )


class GatewaySystemConfig(_Section):
    """The gateway's view of one system."""

    api_key_hashes: list[str] = Field(
        default_factory=list,
        description="SHA-256 hex digests of client API keys that select this system.",
    )
    fallback_message: str | None = Field(
        default=None, description="Served while disabled, instead of an HTTP 503."
    )
    fallback_version: str | None = Field(
        default=None, description="Served while disabled, instead of an HTTP 503."
    )
    timeout_seconds: float = Field(default=60.0, gt=0)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    detect: list[InlineDetector] = Field(
        default_factory=lambda: list(INLINE_DETECTORS),
        description="Inline detectors run on responses.",
    )
    slo: GatewaySloConfig = Field(default_factory=GatewaySloConfig)
    pii_allow: list[str] = Field(
        default_factory=list,
        description="Names and places inline PII detection never reports for this system "
        "(the assistant's persona, staff who sign answers, public figures it discusses).",
    )
    context_key_hashes: list[str] = Field(
        default_factory=list,
        description="Client keys (SHA-256) whose `defib_context` grounding may check; "
        "context from any other client is ignored.",
    )
    forward_client_authorization: bool = Field(
        default=False,
        description="Send the client's own Authorization upstream when no upstream key is set.",
    )

    @field_validator("api_key_hashes", "context_key_hashes")
    @classmethod
    def _hashes(cls, v: list[str]) -> list[str]:
        # A key pasted here instead of its digest would otherwise never match, silently.
        for i, h in enumerate(v):
            if not _SHA256_HEX.match(h.strip()):
                raise ValueError(f"item {i} is not a SHA-256 hex digest (64 hex characters)")
        return [h.strip().lower() for h in v]


class ProbeConfig(_Section):
    """One check verify_endpoint runs through the system's endpoint."""

    prompt: str = Field(min_length=1)
    must_contain: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    no_findings: bool = Field(default=True, description="No PII, secret or toxicity findings.")
    max_latency_ms: float | None = Field(default=None, gt=0)
    types: list[IncidentType] = Field(
        default_factory=list,
        description="Incident types this probe's passing proves fixed (default: the content"
        " types, hallucination, toxicity, data_leak and bias). A performance or availability"
        " incident counts only probes that name its type here.",
    )


class SystemConfig(_Section):
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


class SmtpSettings(_Section):
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


class PagerDutySettings(_Section):
    events_url: HttpUrl = "https://events.pagerduty.com/v2/enqueue"
    webhook_secret_env: EnvName | None = Field(
        default=None,
        description="Environment variable holding the signing secret of PagerDuty's v3"
        " webhook subscription (POST /api/v1/integrations/pagerduty/webhook); unset: refused.",
    )


class RetrySettings(_Section):
    """Retries of one delivery (429, 5xx, network errors); other 4xx are final."""

    attempts: int = Field(default=4, ge=1, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=10.0, ge=0)


class AffectedUsersDirectory(_Section):
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


class NotificationSettings(_Section):
    smtp: SmtpSettings | None = None
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per HTTP request.")
    security_contacts: list[Email] = Field(
        default_factory=list, description="Emailed for every security incident, any system."
    )
    affected_users: AffectedUsersDirectory = Field(default_factory=AffectedUsersDirectory)


class EngineSettings(_Section):
    """The playbook engine's timings (also `DEFIB_ENGINE_<KEY>`, e.g. DEFIB_ENGINE_POLL_SECONDS)."""

    poll_seconds: float = Field(
        default=0.05, gt=0, le=60, description="DBOS queue and notification polling."
    )
    sweep_seconds: float = Field(
        default=2.0, gt=0, description="How often a worker enqueues pending runs nobody did."
    )
    heartbeat_seconds: float = Field(default=2.0, gt=0, description="Worker heartbeat period.")
    heartbeat_ttl_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Silence after which another worker takes a worker's runs.",
    )
    concurrency: int = Field(default=50, ge=1, description="Runs executing at once per worker.")
    reconcile_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a worker reconciles active runs with their workflows and runs "
        "the watchdog.",
    )
    stuck_margin_seconds: float = Field(
        default=60.0,
        ge=0,
        description="The watchdog flags a run this long past its step's allowance (every "
        "attempt to its timeout, the backoffs; a wait's or approval's deadline).",
    )

    @field_validator("heartbeat_ttl_seconds")
    @classmethod
    def _ttl_outlasts_beats(cls, v: float, info: ValidationInfo) -> float:
        beat = info.data.get("heartbeat_seconds")
        if beat is not None and v <= beat:
            # Every live worker would be declared dead between two of its own beats.
            raise PydanticCustomError(
                "ttl_too_short", f"must exceed heartbeat_seconds ({beat:g}), got {v:g}"
            )
        return v


class MetricsSettings(_Section):
    """GET /metrics: who may scrape it and how fresh the database-derived series are."""

    public: bool = Field(
        default=False,
        description="Serve /metrics without a token (otherwise a viewer token is needed).",
    )
    cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Database-derived series are read at most once per this many seconds.",
    )


class CorroborationSettings(_Section):
    """When an incident raised by the gateway alone may contain (disable, block, roll back).

    One client must not be able to switch a system off on its own word: containment needs
    a finding on output the client did not supply (PII or toxicity not echoed from its
    prompt), findings from `min_clients` distinct client keys, or `min_requests` flagged
    requests from keyed clients within `window_seconds`.
    """

    min_clients: int = Field(default=2, ge=1)
    min_requests: int = Field(default=10, ge=0, description="0 turns the request-count route off.")
    window_seconds: float = Field(default=900.0, gt=0)


class GatewaySettings(_Section):
    """defib's OpenAI-compatible gateway (the data plane)."""

    embedded: bool = Field(default=True, description="`defib serve` also runs the gateway.")
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    url: str | None = Field(
        default=None, description="Where the gateway is reached (default http://host:port)."
    )
    state_refresh_seconds: float = Field(
        default=0.5, gt=0, le=10, description="How often replicas re-read system state."
    )
    alert_min_interval_seconds: float = Field(
        default=60.0, ge=0, description="At most one inline-detection alert per kind per system."
    )
    allow_anonymous: bool = Field(
        default=False,
        description="Serve systems that list no client keys to any caller (warned at start).",
    )
    alert_offences_per_key_per_minute: int = Field(
        default=20,
        ge=1,
        description="Flagged responses one client key may contribute to alerts per minute.",
    )
    corroboration: CorroborationSettings = Field(default_factory=CorroborationSettings)

    @property
    def base_url(self) -> str:
        return (self.url or f"http://{self.host}:{self.port}").rstrip("/")


def _matchers(v: list[str]) -> list[str]:
    from defib.model import InvalidInput
    from defib.silences import parse_matchers

    try:
        parse_matchers(v)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from exc
    return v


Matchers = Annotated[list[str], AfterValidator(_matchers)]


class InhibitRuleConfig(_Section):
    """Alertmanager's inhibit_rules: an open incident matching `source_matchers` keeps a new
    alert matching `target_matchers` (with equal values of the `equal` labels) quiet."""

    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class MaintenanceWindowConfig(_Section):
    """A weekly window (UTC) during which matching alerts are silenced."""

    name: str = Field(min_length=1, max_length=100)
    matchers: Matchers = Field(default_factory=list)
    system: str | None = Field(default=None, description="Shorthand for matcher system=<name>.")
    days: list[str] = Field(min_length=1, description="mon ... sun, or daily.")
    start: str = Field(description="HH:MM, UTC.")
    duration: str = Field(description="e.g. 2h, 90m.")
    comment: str = ""

    @model_validator(mode="after")
    def _check(self) -> MaintenanceWindowConfig:
        from defib.model import InvalidInput

        if not self.matchers and self.system is None:
            raise ValueError("name matchers or a system")
        try:
            self.schedule()
        except InvalidInput as exc:
            raise ValueError(str(exc)) from exc
        return self

    def all_matchers(self) -> list[str]:
        return [*self.matchers, *([f"system={self.system}"] if self.system else [])]

    def schedule(self) -> Weekly:
        from defib.silences.schedule import Weekly, parse_days, parse_duration, parse_hhmm

        return Weekly(parse_days(self.days), parse_hhmm(self.start), parse_duration(self.duration))


class SlackUser(_Section):
    """The defib actor a Slack user acts as when pressing defib's buttons."""

    actor: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "responder", "admin"] = "responder"


class SlackAppSettings(_Section):
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


class SilenceSettings(_Section):
    """Who may keep alerts quiet, and for how long (docs/silences.md)."""

    max_duration_hours: float = Field(
        default=168, gt=0, description="Silences longer than this need an admin token."
    )
    tell_security_of_silenced_leaks: bool = Field(
        default=True,
        description="A data_leak alert kept quiet by a silence is still told to the security"
        " contacts (and recorded in the audit log). Only the config can turn it off.",
    )


class StormSettings(_Section):
    """Limits that keep one sender from opening thousands of incidents (Alertmanager's
    grouping is the model): past them, new alerts fold into one storm incident per source.
    Counted per process (each replica has its own minute)."""

    max_alerts_per_request: int = Field(
        default=1000, ge=1, description="Firing alerts of one request correlated one by one."
    )
    max_new_incidents_per_request: int = Field(default=100, ge=1)
    max_new_incidents_per_source_per_minute: int = Field(
        default=600, ge=1, description="Per sender (token name) and minute."
    )
    playbook_runs_per_system_per_minute: int = Field(
        default=20, ge=1, description="Runs planned for alert-raised incidents of one system."
    )


class S3Target(_Section):
    """An S3-compatible bucket (AWS S3, MinIO, Ceph): path-style requests signed with SigV4."""

    endpoint_url: HttpUrl
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+$")
    region: str = "us-east-1"
    prefix: str = Field(default="", max_length=200, description="Key prefix, e.g. `defib/`.")
    access_key_env: EnvName = "AWS_ACCESS_KEY_ID"
    secret_key_env: EnvName = "AWS_SECRET_ACCESS_KEY"


class CheckpointMirror(_Section):
    """An external append-only copy of the checkpoints: a webhook (`url`) or a file (`path`)."""

    url: HttpUrl | None = Field(default=None, description="POST each checkpoint as JSON.")
    secret_env: EnvName | None = Field(
        default=None, description="HMAC-SHA256 key for the webhook's X-Defib-Signature."
    )
    path: Path | None = Field(
        default=None, description="Append each checkpoint as a line (verify reads it too)."
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one_target(self) -> CheckpointMirror:
        if (self.url is None) == (self.path is None):
            raise ValueError("set exactly one of url (a webhook) or path (a file)")
        return self


class EvidenceAnchorSettings(_Section):
    """Signed checkpoints of every evidence chain, outside the database (docs/security.md)."""

    enabled: bool = True
    key_file: Path | None = Field(
        default=None,
        description="Ed25519 signing key, base64 (default <data_dir>/evidence-anchor.key, "
        "created 0600).",
    )
    key_env: EnvName | None = Field(
        default=None, description="Environment variable holding the key instead of a file."
    )
    signer_url: HttpUrl | None = Field(
        default=None,
        description="A KMS-style signing service (GET /public-key, POST /sign) instead of "
        "a key on this host; wins over key_env and key_file.",
    )
    signer_token_env: EnvName | None = Field(
        default=None, description="Environment variable with the signing service's bearer token."
    )
    log_file: Path | None = Field(
        default=None,
        description="Append-only checkpoint log (default <data_dir>/evidence-checkpoints.jsonl).",
    )
    # Issue 25: several replicas and workers must read the same checkpoints and bytes.
    store: Literal["auto", "database", "file"] = Field(
        default="auto",
        description="Where checkpoints are kept: auto = the database on PostgreSQL (every "
        "replica reads it), the log file on SQLite.",
    )
    blob_store: Literal["auto", "database", "file", "s3"] = Field(
        default="auto",
        description="Where evidence bytes are kept: auto = the database on PostgreSQL, "
        "<data_dir>/evidence on SQLite; s3 = the bucket in `s3`.",
    )
    s3: S3Target | None = Field(default=None, description="The bucket for blob_store: s3.")
    trusted_keys: list[str] = Field(
        default_factory=list,
        description="Base64 Ed25519 public keys whose checkpoints verify (besides this "
        "process's own key). Empty: every key registered in the database is trusted.",
    )
    mirrors: list[CheckpointMirror] = Field(
        default_factory=list,
        description="Append-only sinks every checkpoint is also written to before the step "
        "that collected the evidence succeeds.",
    )

    @field_validator("trusted_keys")
    @classmethod
    def _public_keys(cls, v: list[str]) -> list[str]:
        # Checked here, so a typo is a config error at start, not a crash on first verify.
        for i, text in enumerate(v):
            try:
                raw = base64.b64decode(text.strip(), validate=True)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError(f"item {i}: not a base64 Ed25519 public key (32 bytes)")
        return v

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> EvidenceAnchorSettings:
        if self.blob_store == "s3" and self.s3 is None:
            raise ValueError("blob_store s3 needs the bucket in evidence_anchor.s3")
        return self


class IntakeSettings(_Section):
    """How alerts fold into incidents."""

    fold: dict[str, Literal["grouped", "exact"]] = Field(
        default_factory=dict,
        description="Per alert format (alertmanager, grafana, pagerduty, native) or source"
        " name: `grouped` (default) folds alerts whose identities differ only in numbers and"
        " ids into one incident; `exact` keeps one incident per exact identity (PagerDuty's"
        " one dedup_key, one incident).",
    )

    @property
    def exact(self) -> frozenset[str]:
        return frozenset(k for k, v in self.fold.items() if v == "exact")


class Settings(BaseSettings):
    """Everything defib reads at start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    data_dir: Path = Field(
        default=Path(".defib"),
        description="Where SQLite, tokens and evidence live (also `DEFIB_HOME`); made absolute.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/defib.db."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    url: str | None = Field(
        default=None,
        description="Base URL the CLI talks to (default: `defib login`'s, else host and port).",
    )
    token: str | None = Field(default=None, description="Bearer token the CLI sends.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    reopen_window_seconds: int = Field(
        default=1800, ge=0, description="A new alert this soon after resolution reopens."
    )
    playbooks_dir: Path | None = Field(
        default=None,
        description="Directory of playbook YAML files that add to or replace the built-ins.",
    )
    rules_file: Path | None = Field(
        default=None, description="Classification rules (YAML) tried before the built-in ones."
    )
    log_level: str = "info"
    systems: list[SystemConfig] = Field(
        default_factory=list, description="The AI systems defib protects and their owners."
    )
    default_owners: Owners | None = Field(
        default=None,
        description="Who hears about what no system's owners cover: incidents of systems not"
        " under systems:, incidents naming no system, systems whose owners configure no"
        " channel. Same shape as a system's owners.",
    )
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    # On call (docs/oncall.md); the classes live in defib.oncall.config.
    people: list[PersonConfig] = Field(default_factory=list)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicyConfig] = Field(default_factory=list)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    storm: StormSettings = Field(default_factory=StormSettings)
    silences: SilenceSettings = Field(default_factory=SilenceSettings)
    evidence_anchor: EvidenceAnchorSettings = Field(default_factory=EvidenceAnchorSettings)
    public_url: str | None = Field(
        default=None,
        description="Base of every incident link defib sends (Slack, e-mail, PagerDuty):"
        " {public_url}/incidents/INC-n, the console page (default: url).",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Signs console sessions (default: generated in <data_dir>/session-secret).",
    )
    inhibit_rules: list[InhibitRuleConfig] | None = Field(
        default=None,
        description="Inhibition rules; default: an open availability incident of a system"
        " inhibits that system's performance alerts. [] turns inhibition off.",
    )
    maintenance_windows: list[MaintenanceWindowConfig] = Field(
        default_factory=list, description="Weekly silences (UTC)."
    )
    slack: SlackAppSettings = Field(default_factory=SlackAppSettings)
    config: Path | None = Field(default=None, description="The YAML file these came from.")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        allowed = {"critical", "error", "warning", "info", "debug"}
        if v.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(sorted(allowed))}")
        return v.lower()

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql:// (psycopg 3 is used)")
        return v

    @field_validator("systems")
    @classmethod
    def _unique_systems(cls, v: list[SystemConfig]) -> list[SystemConfig]:
        seen: dict[str, int] = {}
        for i, system in enumerate(v):
            if system.name in seen:
                raise PydanticCustomError(
                    "duplicate_system",
                    "'{name}' is named twice (systems.{first}.name and systems.{second}.name)",
                    {"name": system.name, "first": seen[system.name], "second": i},
                )
            seen[system.name] = i
        return v

    @model_validator(mode="after")
    def _oncall_references(self) -> Settings:
        check_references(self)
        return self

    def system(self, name: str) -> SystemConfig | None:
        return next((s for s in self.systems if s.name == name), None)

    @property
    def reaches_nobody(self) -> bool:
        """No owner anywhere has a channel or an escalation policy: every notification step
        would be skipped."""
        owners = [s.owners for s in self.systems]
        if self.default_owners is not None:
            owners.append(self.default_owners)
        return not self.notifications.security_contacts and not any(
            o.slack_webhook
            or o.emails
            or o.pagerduty_routing_key
            or o.webhooks
            or o.security_contacts
            or o.escalation_policy  # pages the people on call (validated to exist)
            for o in owners
        )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        # Resolved once at start, so the printed path and a later chdir agree.
        return v.expanduser().absolute()

    @property
    def local_url(self) -> str:
        """Where this machine's own `defib serve` answers, from `host` and `port`."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def incident_link(self, incident_id: str) -> str:
        """Where people open an incident: its console page (Slack, e-mail, PagerDuty links)."""
        base = self.public_url or self.url or self.local_url
        return f"{base.rstrip('/')}/incidents/{incident_id}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'defib.db'}"

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def session_secret_path(self) -> Path:
        return self.data_dir / "session-secret"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: keyword arguments, DEFIB_* variables, the YAML file (when
        # load_settings names one), defaults.
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _with_file(path: Path) -> type[Settings]:
    """Settings that also read `path` (pydantic-settings' YAML source, below the env)."""
    config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": path})
    return type("Settings", (Settings,), {"model_config": config, "__module__": __name__})


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the YAML file, the environment and overrides; raise ConfigError."""
    path = config_file if config_file is not None else os.environ.get(f"{ENV_PREFIX}CONFIG")
    cls: type[Settings] = Settings
    if path:
        file = Path(path)
        try:
            with file.open(encoding="utf-8"):
                pass  # pydantic-settings skips a missing file silently; we must not
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror or exc}") from exc
        cls = _with_file(file)
        overrides = {"config": file, **overrides}
    home = os.environ.get(f"{ENV_PREFIX}HOME")
    if home and f"{ENV_PREFIX}DATA_DIR" not in os.environ and overrides.get("data_dir") is None:
        # DEFIB_HOME names the data directory (DEFIB_DATA_DIR, its older name, wins if set).
        overrides = {**overrides, "data_dir": home}
    engine_env = _engine_env()
    if engine_env and "engine" not in overrides:
        # DEFIB_ENGINE_<KEY> sets one key of the `engine:` section (over the file's).
        section = YamlConfigSettingsSource(cls)().get("engine") if path else None
        overrides = {
            **overrides,
            "engine": {**(section if isinstance(section, dict) else {}), **engine_env},
        }
    try:
        return cls(**{k: v for k, v in overrides.items() if v is not None})
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}{where}: not valid YAML") from exc
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(exc, source=str(path) if path else None)
        ) from exc
    except (AttributeError, TypeError, ValueError) as exc:
        # The YAML source expects a mapping at the top; a list or a scalar breaks it.
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys") from exc


def _engine_env() -> dict[str, str]:
    """`engine:` keys set by DEFIB_ENGINE_<KEY> variables; unknown names are refused."""
    prefix = f"{ENV_PREFIX}ENGINE_"
    known = {name.upper(): name for name in EngineSettings.model_fields}
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        if name.startswith(prefix):
            key = name[len(prefix) :]
            found[known.get(key, key.lower())] = value
    return found


def describe_validation_error(exc: ValidationError, source: str | None = None) -> str:
    """One line per problem, each naming the key (as `a.b.c`) and what is wrong."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{key}: {msg}")
    where = f" in {source}" if source else ""
    return f"invalid configuration{where}: " + "; ".join(parts)
