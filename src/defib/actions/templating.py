"""Rendering step params with incident fields: Jinja2 in a sandbox, undefined names are errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from defib.actions.base import ActionError

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def render_text(template: str, incident: Mapping[str, Any]) -> str:
    try:
        return _ENV.from_string(template).render(incident=dict(incident))
    except TemplateError as exc:
        raise ActionError(f"template {template[:80]!r}: {exc}") from exc


def render_value(value: Any, incident: Mapping[str, Any]) -> Any:
    """Render every string inside a JSON value; keys and non-strings stay as they are."""
    if isinstance(value, str):
        return render_text(value, incident) if "{" in value else value
    if isinstance(value, list):
        return [render_value(v, incident) for v in value]
    if isinstance(value, Mapping):
        return {k: render_value(v, incident) for k, v in value.items()}
    return value


def render_with(template: str, what: str, **variables: Any) -> str:
    """Render `template` with the given variables (same sandbox); errors name `what`."""
    try:
        return _ENV.from_string(template).render(**variables)
    except TemplateError as exc:
        raise ActionError(f"{what}: {exc}") from exc
