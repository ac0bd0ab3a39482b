"""The `gateway:` section and each system's `gateway:` block: keys, capture, inline detectors,
SLOs, and when the gateway's own findings may contain a system (corroboration)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from defib.config.fields import Section

_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class CaptureConfig(Section):
    """Which completions the gateway keeps, and how."""

    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    mask_pii: bool = Field(default=True, description="Mask PII and secrets at rest.")
    retention_days: int = Field(default=30, ge=1)


InlineDetector = Literal["pii", "toxicity", "grounding"]


INLINE_DETECTORS: tuple[InlineDetector, ...] = ("pii", "toxicity", "grounding")


class ModelPrice(Section):
    """What one model costs, per million tokens (in whatever currency the team budgets in)."""

    input: float = Field(ge=0, description="Price per million input (prompt) tokens.")
    output: float = Field(ge=0, description="Price per million output (completion) tokens.")


class UsageSloConfig(Section):
    """Token usage, cost and finish reasons judged over a sliding window (each check is off
    until its limit is set). A breach opens a performance incident."""

    window_seconds: int = Field(
        default=300, ge=60, le=3600, description="The sliding window every check looks at."
    )
    min_calls: int = Field(
        default=10,
        ge=1,
        description="Calls (reporting usage or a finish reason) a per-call figure, a share "
        "or a baseline needs before it is judged.",
    )
    max_tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Ceiling on input + output tokens per minute."
    )
    spike_factor: float | None = Field(
        default=None,
        gt=1,
        description="Alert when tokens per minute exceed this multiple of the baseline's.",
    )
    baseline_seconds: int = Field(
        default=3600, ge=300, le=86_400, description="The baseline: this long before the window."
    )
    max_output_tokens_per_call: float | None = Field(
        default=None, gt=0, description="Ceiling on the mean output tokens per call."
    )
    max_cost_per_minute: float | None = Field(
        default=None, gt=0, description="Ceiling on cost per minute, priced with `prices`."
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Model name (as the upstream or span reports it) -> price per million "
        "tokens; calls to models not listed cost nothing here.",
    )
    abnormal_finish_reasons: list[str] = Field(
        default_factory=lambda: ["length", "content_filter"],
        description="Finish reasons that mean an answer was cut short or withheld.",
    )
    max_abnormal_finish_share: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Ceiling on the share of calls ending with an abnormal finish reason.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> UsageSloConfig:
        if self.max_cost_per_minute is not None and not self.prices:
            raise ValueError(
                "max_cost_per_minute needs prices: e.g. prices: {gpt-4o: {input: 2.5, output: 10}}"
            )
        if self.spike_factor is not None and self.baseline_seconds < self.window_seconds:
            raise ValueError(
                f"baseline_seconds ({self.baseline_seconds}) must be at least window_seconds "
                f"({self.window_seconds}): a spike is measured against a longer past"
            )
        if self.max_abnormal_finish_share is not None and not any(
            r.strip() for r in self.abnormal_finish_reasons
        ):
            raise ValueError("max_abnormal_finish_share needs abnormal_finish_reasons")
        return self

    @property
    def enabled(self) -> bool:
        return any(
            v is not None
            for v in (
                self.max_tokens_per_minute,
                self.spike_factor,
                self.max_output_tokens_per_call,
                self.max_cost_per_minute,
                self.max_abnormal_finish_share,
            )
        )


class GatewaySloConfig(Section):
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
    usage: UsageSloConfig = Field(default_factory=UsageSloConfig)


class GatewaySystemConfig(Section):
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


class CorroborationSettings(Section):
    """When an incident raised by the gateway alone may contain (disable, block, roll back).

    One client must not be able to switch a system off on its own word: containment needs
    a finding on output the client did not supply (PII or toxicity not echoed from its
    prompt), findings from `min_clients` distinct client keys, or `min_requests` flagged
    requests from keyed clients within `window_seconds`.
    """

    min_clients: int = Field(default=2, ge=1)
    min_requests: int = Field(default=10, ge=0, description="0 turns the request-count route off.")
    window_seconds: float = Field(default=900.0, gt=0)


class GatewaySettings(Section):
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
