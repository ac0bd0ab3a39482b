"""What an action is: an async function of a context, and the context the engine gives it.

Actions run inside a DBOS step, so they may run more than once for one step (a crash
mid-step re-executes it). Every side effect must therefore carry `ctx.idempotency_key`
(`<run id>:<step index>`) so that its receiver recognises the repeat.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from defib.events import RecordedKind

if TYPE_CHECKING:
    from defib.actions.environment import ActionEnvironment

# (kind, data, idempotency key) -> None; writes one timeline event exactly once per key.
# The kind is `TimelineKind | str`: third-party actions (entry points) record their own kinds.
TimelineWriter = Callable[[RecordedKind, Mapping[str, Any], str], Awaitable[None]]


class ActionError(Exception):
    """The action failed; the engine retries it per the step's policy."""


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    # Ran, but found no evidence about this incident's failure either way (verification).
    UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action reports: succeeded (with details) or skipped (with a reason)."""

    outcome: Outcome = Outcome.SUCCEEDED
    detail: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "detail": dict(self.detail), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ActionContext:
    """Everything one execution of one step knows."""

    run_id: str
    step_index: int
    step_name: str
    generation: int
    attempt: int
    idempotency_key: str
    # A snapshot of the incident taken when the run started (deterministic on replay).
    incident: Mapping[str, Any]
    params: Mapping[str, Any]
    timeout_seconds: float
    timeline: TimelineWriter
    # Settings, database, clock and HTTP transport, from the Runtime (through the engine).
    env: ActionEnvironment

    @property
    def actor(self) -> str:
        return f"run:{self.run_id}"

    async def record(self, kind: RecordedKind, data: Mapping[str, Any], suffix: str = "") -> None:
        """Put one event on the incident's timeline, once per (step, suffix) however often run."""
        key = self.idempotency_key + (f":{suffix}" if suffix else "")
        await self.timeline(kind, data, key)


@runtime_checkable
class Action(Protocol):
    """A named step function. `describe` says what `run` would do, for dry runs."""

    @property
    def name(self) -> str: ...

    async def run(self, ctx: ActionContext) -> ActionResult: ...

    def describe(self, ctx: ActionContext) -> str: ...


@runtime_checkable
class DurableSleep(Protocol):
    """An action the engine performs itself as a durable DBOS sleep (it survives restarts)."""

    @property
    def name(self) -> str: ...

    def sleep_seconds(self, ctx: ActionContext) -> float: ...

    def describe(self, ctx: ActionContext) -> str: ...
