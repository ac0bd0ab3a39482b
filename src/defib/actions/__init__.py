"""The step functions playbooks name, behind one registry (built-ins + `defib.actions` plugins)."""

from defib.actions.base import (
    Action,
    ActionContext,
    ActionError,
    ActionResult,
    DurableSleep,
    Outcome,
)
from defib.actions.builtin import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    signature_headers,
)
from defib.actions.registry import (
    ENTRY_POINT_GROUP,
    ActionRegistry,
    UnknownAction,
    builtin_registry,
    default_registry,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "Action",
    "ActionContext",
    "ActionError",
    "ActionRegistry",
    "ActionResult",
    "DurableSleep",
    "Outcome",
    "UnknownAction",
    "builtin_registry",
    "default_registry",
    "signature_headers",
]
