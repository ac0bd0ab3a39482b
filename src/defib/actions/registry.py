"""The action registry: built-ins plus plugins from the `defib.actions` entry-point group.

Built-ins are registered by name and module path and imported on first use: importing
every action module (httpx, MLflow's client, the evidence store...) cost `import
defib.bootstrap` over a second, and a process only needs the actions its playbooks run.

A plugin's entry point names an action object, an action class (instantiated with no
arguments), or a callable returning an iterable of actions.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from defib.actions.base import Action, DurableSleep
from defib.systems.state import FilterAction

ENTRY_POINT_GROUP = "defib.actions"

log = logging.getLogger(__name__)

AnyAction = Action | DurableSleep


class UnknownAction(LookupError):
    pass


@dataclass(frozen=True)
class LazyAction:
    """An action known by name whose module is imported when it is first asked for:
    `module:attr` names its class (or factory), called with `kwargs`."""

    name: str
    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> AnyAction:
        module_name, attr = self.target.split(":")
        factory: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
        action = factory(**self.kwargs)
        _check(action)
        if action.name != self.name:
            raise ValueError(f"{self.target} built action {action.name!r}, not {self.name!r}")
        return action  # type: ignore[no-any-return]


def _check(action: object) -> None:
    if not isinstance(action, Action | DurableSleep):
        raise TypeError(f"{action!r} is not an action (needs name, run/sleep_seconds, describe)")


class ActionRegistry:
    def __init__(self, actions: Iterable[AnyAction | LazyAction] = ()) -> None:
        # Registration order is kept (iteration lists built-ins first, as declared).
        self._actions: dict[str, AnyAction | LazyAction] = {}
        for action in actions:
            if isinstance(action, LazyAction):
                self.register_lazy(action)
            else:
                self.register(action)

    def register(self, action: AnyAction, *, replace: bool = False) -> None:
        _check(action)
        self._add(action.name, action, replace=replace)

    def register_lazy(self, action: LazyAction, *, replace: bool = False) -> None:
        """Register an action by name; its module is imported by the first `get`."""
        self._add(action.name, action, replace=replace)

    def _add(self, name: str, action: AnyAction | LazyAction, *, replace: bool) -> None:
        if name in self._actions and not replace:
            raise ValueError(f"action {name!r} is already registered")
        self._actions[name] = action

    def get(self, name: str) -> AnyAction:
        try:
            entry = self._actions[name]
        except KeyError:
            raise UnknownAction(f"unknown action {name!r}") from None
        if isinstance(entry, LazyAction):
            entry = self._actions[name] = entry.load()
        return entry

    def names(self) -> frozenset[str]:
        """Every registered name, without importing any lazy action."""
        return frozenset(self._actions)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[AnyAction]:
        """Every action (imports the lazy ones)."""
        return iter([self.get(name) for name in list(self._actions)])

    def load_entry_points(self) -> None:
        """Register every plugin action; a plugin may not replace a built-in (it is logged)."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded: Any = ep.load()
                for action in _expand(loaded):
                    self.register(action)
            except Exception:
                log.exception("cannot load action plugin %s", ep.value)


def _expand(obj: Any) -> list[AnyAction]:
    if isinstance(obj, Action | DurableSleep) and not isinstance(obj, type):
        return [obj]
    if isinstance(obj, type):
        return [obj()]
    if callable(obj):
        return list(obj())
    raise TypeError(f"{obj!r} is not an action, an action class or a factory")


_BUILTINS: tuple[LazyAction, ...] = (
    LazyAction("webhook", "defib.actions.builtin:WebhookAction"),
    LazyAction("wait", "defib.actions.builtin:WaitAction"),
    LazyAction("note", "defib.actions.builtin:NoteAction"),
    LazyAction(
        "notify_team",
        "defib.actions.notify:NotifyAction",
        {"name": "notify_team", "security": False},
    ),
    LazyAction(
        "notify_security_team",
        "defib.actions.notify:NotifyAction",
        {"name": "notify_security_team", "security": True},
    ),
    LazyAction(
        "collect_evidence",
        "defib.actions.evidence:EvidenceAction",
        {"name": "collect_evidence", "system_files": False},
    ),
    LazyAction(
        "preserve_evidence",
        "defib.actions.evidence:EvidenceAction",
        {"name": "preserve_evidence", "system_files": True},
    ),
    LazyAction(
        "disable_endpoint",
        "defib.actions.containment:SwitchAction",
        {"name": "disable_endpoint", "enable": False},
    ),
    LazyAction(
        "enable_endpoint",
        "defib.actions.containment:SwitchAction",
        {"name": "enable_endpoint", "enable": True},
    ),
    LazyAction(
        "block_output",
        "defib.actions.containment:OutputFilterStep",
        {"name": "block_output", "default_action": FilterAction.BLOCK, "threshold_scale": 1.0},
    ),
    LazyAction(
        "update_content_filters",
        "defib.actions.containment:OutputFilterStep",
        {
            "name": "update_content_filters",
            "default_action": FilterAction.REDACT,
            "threshold_scale": 0.6,
        },
    ),
    LazyAction("review_guardrails", "defib.actions.containment:ReviewGuardrailsAction"),
    LazyAction("rollback_model", "defib.actions.rollback:RollbackAction"),
    LazyAction("verify_endpoint", "defib.actions.verify:VerifyAction"),
    LazyAction("assess_data_impact", "defib.actions.impact:AssessImpactAction"),
    LazyAction("notify_affected_users", "defib.actions.impact:NotifyUsersAction"),
    LazyAction("page_oncall", "defib.actions.escalate:PageOnCallAction"),
)


def builtin_registry() -> ActionRegistry:
    """The built-in actions, each imported when a playbook first runs it."""
    return ActionRegistry(_BUILTINS)


def default_registry() -> ActionRegistry:
    """Built-ins plus installed plugins."""
    registry = builtin_registry()
    registry.load_entry_points()
    return registry
