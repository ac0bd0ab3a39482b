"""Playbook errors: one problem located by file, line, step and key, and every problem of a
file at once; and the translation of pydantic's validation errors into them.

The translation knows nothing of the playbook models: `defib.playbooks.spec` passes which
model sits at each location (to name the allowed keys) and what its field patterns mean in
words, so these types sit below the models and the loader alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ValidationError


class PlaybookError(Exception):
    """One problem in a playbook, located by file, line, step and key where known.

    `step_number` is 1-based, as people count steps; `step` is the step's name.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        step: str | None = None,
        step_number: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.step = step
        self.step_number = step_number
        self.key = key

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.step_number is not None:
            parts.append(
                f"step {self.step_number}" + (f" {self.step!r}" if self.step is not None else "")
            )
        elif self.step is not None:
            parts.append(f"step {self.step!r}")
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only state would be lost by Exception's default pickling.
        return (_rebuild_error, (self.message, self.__dict__.copy()))


def _rebuild_error(message: str, state: dict[str, Any]) -> PlaybookError:
    error = PlaybookError(message)
    error.__dict__.update(state)
    return error


class PlaybookErrors(Exception):
    """Every problem found in one or more playbooks; `errors` lists them in file order."""

    def __init__(self, errors: Sequence[PlaybookError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

    def __reduce__(self) -> tuple[Any, ...]:
        return (PlaybookErrors, (self.errors,))


# A loader passes this to map a location in the data (keys and indices) to a source line.
Locator = Callable[[tuple[str | int, ...]], int | None]

_TYPE_WORDS: Final = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
}
_BOUNDS: Final = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def show(value: object) -> str:
    """A value as an error message quotes it: YAML's words, long text cut, containers named."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _error_message(
    err: Mapping[str, Any],
    loc: tuple[str | int, ...],
    models: Mapping[tuple[str, ...], type[BaseModel]],
    patterns: Mapping[str, str],
) -> str:
    kind = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    got = show(err.get("input"))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        parent = tuple(p for p in loc[:-1] if isinstance(p, str))
        model = models.get(parent)
        if model is None:
            return "unknown key"
        allowed = list(model.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key ({hint}allowed: {', '.join(allowed)})"
    if kind in ("enum", "literal_error"):
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(options)} (got {got})"
    if kind == "string_pattern_mismatch":
        text = patterns.get(str(ctx.get("pattern")), "has the wrong form")
        return f"{text} (got {got})"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short" and loc == ("steps",):
        return "must list at least one step"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind in _BOUNDS:
        key, text = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # "greater than 0", not "greater than 0.0"
        return f"{text} {bound} (got {got})"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {got})"
    return str(err["msg"])


def _step_name(data: object, index: int) -> str | None:
    if isinstance(data, Mapping):
        steps = data.get("steps")
        if isinstance(steps, list | tuple) and 0 <= index < len(steps):
            step = steps[index]
            if isinstance(step, Mapping) and isinstance(step.get("name"), str):
                return str(step["name"])
    return None


def _key_text(parts: Sequence[str | int]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else p
    return out


def errors_from_validation(
    exc: ValidationError,
    data: object,
    *,
    file: str | None = None,
    locate: Locator | None = None,
    models: Mapping[tuple[str, ...], type[BaseModel]] | None = None,
    patterns: Mapping[str, str] | None = None,
) -> list[PlaybookError]:
    """Turn pydantic's errors into PlaybookErrors naming the step (number and name) and key.

    `models` maps a location (list indices dropped) to the model there, so an unknown key
    lists the allowed ones; `patterns` says in words what a field's regex demands.
    """
    errors: list[PlaybookError] = []
    for err in exc.errors():
        loc: tuple[str | int, ...] = tuple(err["loc"])
        ctx: Mapping[str, Any] = err.get("ctx") or {}
        # pydantic counts only the items that validated, so a list of broken steps is also
        # reported "too short"; the item errors already say what is wrong.
        if err["type"] == "too_short" and len(err.get("input") or ()) >= ctx.get("min_length", 0):
            continue
        message = _error_message(err, loc, models or {}, patterns or {})
        # Custom errors raised by whole-list or whole-model validators point into the data
        # themselves through ctx, since pydantic can only locate them at the container.
        if "step_index" in ctx:
            loc = (*loc, int(ctx["step_index"]))
        if isinstance(ctx.get("key"), str) and ctx["key"]:
            loc = (*loc, *_split_key(ctx["key"]))
        step_number = step_name = None
        rest: tuple[str | int, ...] = loc
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            step_number = loc[1] + 1
            step_name = _step_name(data, loc[1])
            rest = loc[2:]
        errors.append(
            PlaybookError(
                message,
                file=file,
                line=locate(loc) if locate is not None else None,
                step=step_name,
                step_number=step_number,
                key=_key_text(rest) or None,
            )
        )
    return errors


def _split_key(key: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for m in re.finditer(r"([^.\[\]]+)|\[(\d+)\]", key):
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return tuple(parts)
