"""The action registry: built-ins plus plugins from the `defib.actions` entry-point group.

A plugin's entry point names an action object, an action class (instantiated with no
arguments), or a callable returning an iterable of actions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any

from defib.actions.base import Action, DurableSleep
from defib.actions.builtin import (
    NoteAction,
    WaitAction,
    WebhookAction,
)
from defib.actions.containment import OutputFilterStep, ReviewGuardrailsAction, SwitchAction
from defib.actions.escalate import PageOnCallAction
from defib.actions.evidence import EvidenceAction
from defib.actions.impact import AssessImpactAction, NotifyUsersAction
from defib.actions.notify import NotifyAction
from defib.actions.rollback import RollbackAction
from defib.actions.verify import VerifyAction
from defib.systems.state import FilterAction

ENTRY_POINT_GROUP = "defib.actions"

log = logging.getLogger(__name__)

AnyAction = Action | DurableSleep


class UnknownAction(LookupError):
    pass


class ActionRegistry:
    def __init__(self, actions: Iterable[AnyAction] = ()) -> None:
        self._actions: dict[str, AnyAction] = {}
        for action in actions:
            self.register(action)

    def register(self, action: AnyAction, *, replace: bool = False) -> None:
        if not isinstance(action, Action | DurableSleep):
            raise TypeError(
                f"{action!r} is not an action (needs name, run/sleep_seconds, describe)"
            )
        if action.name in self._actions and not replace:
            raise ValueError(f"action {action.name!r} is already registered")
        self._actions[action.name] = action

    def get(self, name: str) -> AnyAction:
        try:
            return self._actions[name]
        except KeyError:
            raise UnknownAction(f"unknown action {name!r}") from None

    def names(self) -> frozenset[str]:
        return frozenset(self._actions)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[AnyAction]:
        return iter(self._actions.values())

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


def builtin_registry() -> ActionRegistry:
    actions: list[AnyAction] = [
        WebhookAction(),
        WaitAction(),
        NoteAction(),
        NotifyAction("notify_team", security=False),
        NotifyAction("notify_security_team", security=True),
        EvidenceAction("collect_evidence", system_files=False),
        EvidenceAction("preserve_evidence", system_files=True),
        SwitchAction("disable_endpoint", enable=False),
        SwitchAction("enable_endpoint", enable=True),
        OutputFilterStep("block_output", default_action=FilterAction.BLOCK, threshold_scale=1.0),
        OutputFilterStep(
            "update_content_filters", default_action=FilterAction.REDACT, threshold_scale=0.6
        ),
        ReviewGuardrailsAction(),
        RollbackAction(),
        VerifyAction(),
        AssessImpactAction(),
        NotifyUsersAction(),
        PageOnCallAction(),
    ]
    return ActionRegistry(actions)


def default_registry() -> ActionRegistry:
    """Built-ins plus installed plugins."""
    registry = builtin_registry()
    registry.load_entry_points()
    return registry
