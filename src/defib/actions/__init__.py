"""The step functions playbooks name, behind one registry (built-ins + `defib.actions` plugins).

Cheap to import: the registry imports an action's module when it is first used, and the
webhook signing names below are imported when first asked for (PEP 562).
"""

from typing import TYPE_CHECKING, Any

from defib.actions.base import (
    Action,
    ActionContext,
    ActionError,
    ActionResult,
    DurableSleep,
    Outcome,
)
from defib.actions.registry import (
    ENTRY_POINT_GROUP,
    ActionRegistry,
    UnknownAction,
    builtin_registry,
    default_registry,
)

if TYPE_CHECKING:
    from defib.actions.builtin import (
        IDEMPOTENCY_HEADER,
        SIGNATURE_HEADER,
        signature_headers,
    )

# Exported name -> the module that defines it, imported on first access.
_LAZY = {
    "IDEMPOTENCY_HEADER": "defib.actions.builtin",
    "SIGNATURE_HEADER": "defib.actions.builtin",
    "signature_headers": "defib.actions.builtin",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
