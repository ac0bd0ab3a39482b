"""The `gateway:` section and each system's `gateway:` block: keys, capture, inline detectors,
SLOs, and when the gateway's own findings may contain a system (corroboration)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from defib.config.fields import Section

_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class CaptureConfig(Section):
    """Which completions the gateway keeps, and how."""

    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    mask_pii: bool = Field(default=True, description="Mask PII and secrets at rest.")
    retention_days: int = Field(default=30, ge=1)


InlineDetector = Literal["pii", "toxicity", "grounding"]


INLINE_DETECTORS: tuple[InlineDetector, ...] = ("pii", "toxicity", "grounding")


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
