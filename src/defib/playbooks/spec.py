"""The playbook format: frozen pydantic models, retry backoff, parsing and the JSON Schema.

A playbook is data. A run stores `Playbook.freeze()` and executes that copy, so editing a
YAML file never changes a run already in flight. This module knows nothing about the
action registry: `BUILTIN_ACTIONS` is only the default name set for offline validation.
Its errors (`PlaybookError`, `PlaybookErrors`) live in `defib.playbooks.errors` and are
re-exported here.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from defib.auth import Role  # re-exported: approvals name the API roles
from defib.model import Incident, IncidentType
from defib.playbooks.conditions import Condition, ConditionError, parse_condition
from defib.playbooks.errors import (
    Locator,
    PlaybookError,
    PlaybookErrors,
    _rebuild_error,  # noqa: F401  (a PlaybookError pickled before errors.py names it here)
    errors_from_validation,
    show,
)

__all__ = [
    "BUILTIN_ACTIONS",
    "SCHEMA_PATH",
    "Approval",
    "Locator",
    "OnFailure",
    "OnTimeout",
    "Playbook",
    "PlaybookError",
    "PlaybookErrors",
    "Retries",
    "Role",
    "Step",
    "backoff_delays",
    "errors_from_validation",
    "parse_playbook",
    "playbook_json_schema",
    "render_schema",
]

# Default action names for offline validation; the engine passes its registry's names instead.
BUILTIN_ACTIONS: Final[frozenset[str]] = frozenset(
    {
        "webhook",
        "wait",
        "note",
        "disable_endpoint",
        "enable_endpoint",
        "block_output",
        "update_content_filters",
        "review_guardrails",
        "rollback_model",
        "notify_team",
        "notify_security_team",
        "collect_evidence",
        "preserve_evidence",
        "assess_data_impact",
        "notify_affected_users",
        "verify_endpoint",
    }
)

SCHEMA_PATH: Final = Path(__file__).with_name("schema.json")

SLUG_PATTERN: Final = r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$"
ACTION_PATTERN: Final = r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$"
SEMVER_PATTERN: Final = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
_PATTERN_TEXT: Final = {
    SLUG_PATTERN: "must be a slug: lowercase letters and digits joined by '-' or '_'",
    ACTION_PATTERN: "must be an action name: lowercase letters, digits, '_' and '.'",
}

DEFAULT_STEP_TIMEOUT: Final = 300.0
DEFAULT_APPROVAL_TIMEOUT: Final = 4 * 3600.0


class OnFailure(enum.StrEnum):
    """What a run does after a step has failed all its attempts."""

    CONTINUE = "continue"
    ABORT = "abort"


class OnTimeout(enum.StrEnum):
    """What a run does when nobody approves a step in time."""

    ABORT = "abort"
    SKIP = "skip"
    PROCEED = "proceed"


Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=64)]
ActionName = Annotated[str, Field(pattern=ACTION_PATTERN, max_length=128)]
Seconds = Annotated[StrictFloat, Field(gt=0, le=30 * 86400)]


def _check_version(value: object) -> object:
    # bool is an int to Python, and YAML turns `1.0` into a float: both are mistakes here.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(SEMVER_PATTERN, value):
        return value
    raise PydanticCustomError(
        "version",
        "must be a whole number or a semver string like 1.2.0 (got {got})",
        {"got": show(value)},
    )


Version = Annotated[
    int | str,
    BeforeValidator(_check_version),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": SEMVER_PATTERN},
            ],
            "description": "A whole number or a semver string.",
        }
    ),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Retries(_Frozen):
    """Retry policy: `count` retries after the first attempt, exponential backoff with jitter."""

    count: Annotated[StrictInt, Field(ge=0, le=20)] = 0
    backoff_seconds: Seconds = 1.0
    max_backoff_seconds: Seconds = 60.0

    @model_validator(mode="after")
    def _max_not_below_base(self) -> Retries:
        if self.max_backoff_seconds < self.backoff_seconds:
            raise PydanticCustomError(
                "backoff_range",
                "must be at least backoff_seconds ({base})",
                {"base": self.backoff_seconds, "key": "max_backoff_seconds"},
            )
        return self

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        # Cap the exponent so huge attempt numbers cannot overflow before the min().
        base = min(self.max_backoff_seconds, self.backoff_seconds * 2.0 ** min(attempt - 1, 64))
        # "Equal jitter": spread retries of many runs apart but never wait less than half.
        return base / 2 + rng.random() * base / 2


def backoff_delays(retries: Retries, rng: random.Random) -> list[float]:
    """The waits before each retry, in order; `len == retries.count`."""
    return [retries.delay(attempt, rng) for attempt in range(1, retries.count + 1)]


class Approval(_Frozen):
    """Whether a person must approve a step before it runs, and what happens if nobody does."""

    required: StrictBool = False
    role: Role = Field(default=Role.RESPONDER, description="Role needed to approve.")
    timeout_seconds: Seconds = DEFAULT_APPROVAL_TIMEOUT
    on_timeout: OnTimeout = OnTimeout.ABORT


def _check_json(value: object, path: str = "") -> None:
    """Params are stored with the run as JSON, so only JSON values may go in."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("params_json", "must be a finite number", {"key": path})
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for k, item in value.items():
            if not isinstance(k, str):
                raise PydanticCustomError(
                    "params_json",
                    "keys must be strings (got {got})",
                    {"got": show(k), "key": path},
                )
            _check_json(item, f"{path}.{k}" if path else k)
        return
    raise PydanticCustomError(
        "params_json",
        "must be JSON (string, number, boolean, null, list or mapping), got {got}",
        {"got": type(value).__name__, "key": path},
    )


# The actions whose steps a run needs done unless the playbook says otherwise: telling
# people, containing, rolling back and proving the fix are what a run is for.
REQUIRED_ACTIONS = frozenset(
    {
        "notify_team",
        "notify_security_team",
        "disable_endpoint",
        "block_output",
        "rollback_model",
        "verify_endpoint",
    }
)


class Step(_Frozen):
    """One step: call `action` with `params`, if `when` holds, within its time and retries."""

    name: Slug
    action: ActionName
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    when: str | None = Field(
        default=None,
        description="Condition over the incident; the step is skipped when it is false.",
    )
    timeout_seconds: Seconds = DEFAULT_STEP_TIMEOUT
    retries: Retries = Field(default_factory=Retries)
    on_failure: OnFailure = OnFailure.CONTINUE
    approval: Approval = Field(default_factory=Approval)
    required: bool | None = Field(
        default=None,
        description="A run whose required step was skipped or ended unverified finishes"
        " `needs_attention`, not `succeeded`. Default: true for notification, containment,"
        " rollback and verification actions, false for the others.",
    )

    @field_validator("params")
    @classmethod
    def _params_are_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value)
        return value

    @field_validator("when", mode="before")
    @classmethod
    def _parse_when(cls, value: object) -> object:
        # YAML reads `when: true` as a boolean; accept it as the condition it spells.
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, str):
            try:
                parse_condition(value)
            except ConditionError as exc:
                raise PydanticCustomError("condition", "{error}", {"error": str(exc)}) from None
        return value

    @property
    def condition(self) -> Condition | None:
        """The parsed `when`, or None when the step always runs."""
        return None if self.when is None else parse_condition(self.when)

    @property
    def is_required(self) -> bool:
        """Whether the run needs this step done (see `required`)."""
        return self.required if self.required is not None else self.action in REQUIRED_ACTIONS

    def applies(self, incident: Mapping[str, Any] | Incident) -> bool:
        """Whether this step runs for the incident (its `when` holds, or it has none)."""
        condition = self.condition
        return condition is None or condition.evaluate(incident)


def _check_applies_to(value: object) -> object:
    if not isinstance(value, list | tuple):
        return value  # let pydantic report the type
    allowed = [t.value for t in IncidentType]
    seen: set[str] = set()
    for i, item in enumerate(value):
        if item != "*" and item not in allowed:
            raise PydanticCustomError(
                "applies_to",
                "must be incident types ({allowed}) or '*' (got {got})",
                {"allowed": ", ".join(allowed), "got": show(item), "key": f"[{i}]"},
            )
        if item in seen:
            raise PydanticCustomError(
                "applies_to", "{got} is listed twice", {"got": show(item), "key": f"[{i}]"}
            )
        seen.add(str(item))
    if "*" in seen and len(seen) > 1:
        raise PydanticCustomError(
            "applies_to", "'*' (every type) cannot be combined with named types", {}
        )
    return value


class Playbook(_Frozen):
    """A named, versioned list of steps for one or more incident types."""

    name: Slug
    version: Version = 1
    description: str = ""
    applies_to: Annotated[
        tuple[IncidentType | Literal["*"], ...], BeforeValidator(_check_applies_to)
    ] = Field(default=(), description="Incident types this playbook handles, or ['*'].")
    generic: StrictBool = Field(
        default=False, description="The fallback for incident types without a playbook."
    )
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_step_names(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        first: dict[str, int] = {}
        for i, step in enumerate(steps):
            if step.name in first:
                raise PydanticCustomError(
                    "duplicate_step",
                    "name {name} is already used by step {first}",
                    {
                        "name": repr(step.name),
                        "first": first[step.name] + 1,
                        "step_index": i,
                        "key": "name",
                    },
                )
            first[step.name] = i
        return steps

    @model_validator(mode="after")
    def _targets_something(self) -> Playbook:
        if not self.applies_to and not self.generic:
            raise PydanticCustomError(
                "applies_to",
                "name incident types, or use ['*'] or generic: true for the fallback playbook",
                {"key": "applies_to"},
            )
        return self

    @property
    def is_generic(self) -> bool:
        """True for the fallback playbook (generic: true or applies_to: ['*'])."""
        return self.generic or "*" in self.applies_to

    @property
    def incident_types(self) -> tuple[IncidentType, ...]:
        """The incident types this playbook names explicitly."""
        return tuple(t for t in self.applies_to if isinstance(t, IncidentType))

    def step(self, name: str) -> Step:
        """The step called `name`; KeyError if there is none."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def freeze(self) -> dict[str, Any]:
        """A JSON-able copy to store with a run; `from_dict` turns it back into this playbook."""
        return self.model_dump(mode="json")

    def to_dict(self) -> dict[str, Any]:
        """Alias of `freeze`."""
        return self.freeze()

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: equal playbooks, equal digests."""
        text = json.dumps(self.freeze(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: object, *, file: str | None = None) -> Playbook:
        """Validate a mapping (a parsed YAML file or a frozen copy); raise PlaybookErrors."""
        return parse_playbook(data, file=file)


# Models reached by a location once list indices are dropped, to name the allowed keys.
_MODEL_AT: Final[Mapping[tuple[str, ...], type[BaseModel]]] = {
    (): Playbook,
    ("steps",): Step,
    ("steps", "retries"): Retries,
    ("steps", "approval"): Approval,
}


def parse_playbook(
    data: object, *, file: str | None = None, locate: Locator | None = None
) -> Playbook:
    """Validate parsed YAML/JSON as a playbook; raise PlaybookErrors listing every problem."""
    if not isinstance(data, Mapping):
        raise PlaybookErrors(
            [PlaybookError(f"must be a mapping of playbook keys (got {show(data)})", file=file)]
        )
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        raise PlaybookErrors(
            errors_from_validation(
                exc, data, file=file, locate=locate, models=_MODEL_AT, patterns=_PATTERN_TEXT
            )
        ) from None


# --------------------------------------------------------------------------- schema


def playbook_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a playbook file, generated from the models."""
    schema = Playbook.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "defib playbook",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render_schema() -> str:
    """The exact text of the committed `schema.json`."""
    return json.dumps(playbook_json_schema(), indent=2, ensure_ascii=False) + "\n"
