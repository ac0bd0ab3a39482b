"""The `engine:` section: the playbook engine's timings (also `DEFIB_ENGINE_<KEY>`)."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from defib.config.fields import Section


class EngineSettings(Section):
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
