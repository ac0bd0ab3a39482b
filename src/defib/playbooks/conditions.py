"""The `when` language: small, safe boolean conditions over an incident, no `eval`.

    severity >= SEV2 and type in [hallucination, toxicity]
    labels.env == "prod" and not (systems contains "sandbox")
    alert_count > 10 or title contains "PII"

A condition is parsed once (at playbook load, so mistakes surface at validation) into a
tree of frozen dataclasses; `str(condition)` prints it back in canonical form, and
`parse_condition(str(c)) == c` holds for every tree the parser can produce.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from defib.model import Incident, IncidentType, Severity, Status

__all__ = [
    "FIELDS",
    "And",
    "Compare",
    "Condition",
    "ConditionError",
    "Const",
    "Not",
    "Or",
    "incident_context",
    "parse_condition",
]

# Nesting is capped so hostile or runaway input fails with ConditionError, not RecursionError.
MAX_DEPTH: Final = 32
# Python refuses int() on very long digit strings; nothing sensible needs more than this.
_MAX_NUMBER_DIGITS: Final = 18

Scalar = str | int
Value = str | int | tuple[Scalar, ...]

EQUALITY: Final = ("==", "!=")
ORDERING: Final = (">=", "<=", ">", "<")
MEMBERSHIP: Final = ("in", "not in")
CONTAINS: Final = "contains"

_ENUMS: Final[Mapping[str, tuple[str, ...]]] = {
    "type": tuple(t.value for t in IncidentType),
    "severity": tuple(s.value for s in Severity),
    "status": tuple(s.value for s in Status),
}
# field -> (kind, operators it accepts)
_FIELD_KINDS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "type": ("enum", EQUALITY + MEMBERSHIP),
    "severity": ("enum", EQUALITY + ORDERING + MEMBERSHIP),
    "status": ("enum", EQUALITY + MEMBERSHIP),
    "systems": ("list", (CONTAINS,)),
    "title": ("str", (*EQUALITY, *MEMBERSHIP, CONTAINS)),
    "alert_count": ("int", EQUALITY + ORDERING + MEMBERSHIP),
    "labels": ("str", (*EQUALITY, *MEMBERSHIP, CONTAINS)),
}
FIELDS: Final = ("type", "severity", "status", "systems", "labels.<key>", "title", "alert_count")

_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "contains", "true", "false"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
_NUMBER = re.compile(r"-?[0-9]+")
_LABEL_KEY = re.compile(r"[A-Za-z0-9_.\-/]+")


class ConditionError(ValueError):
    """A condition that does not parse; `column` is 1-based within the condition text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


# --------------------------------------------------------------------------- AST


class Condition(ABC):
    """A parsed `when` condition."""

    __slots__ = ()

    @abstractmethod
    def _eval(self, ctx: Mapping[str, Any]) -> bool: ...

    def evaluate(self, ctx: Mapping[str, Any] | Incident) -> bool:
        """True when the incident (an `Incident` or its dict form) satisfies the condition."""
        return self._eval(incident_context(ctx))


@dataclass(frozen=True, slots=True)
class Const(Condition):
    """`true` or `false`."""

    value: bool

    def _eval(self, ctx: Mapping[str, Any]) -> bool:
        return self.value

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True, slots=True)
class Compare(Condition):
    """`field op value`; enum values are stored as their canonical strings (`SEV1`, `data_leak`)."""

    field: str
    op: str
    value: Value

    def _eval(self, ctx: Mapping[str, Any]) -> bool:
        if self.field.startswith("labels."):
            labels = ctx.get("labels") or {}
            actual = labels.get(self.field[len("labels.") :])
        else:
            actual = ctx.get(self.field)
        # Absent values (a missing label) match nothing: only the negative operators hold.
        if actual is None:
            return self.op in ("!=", "not in")
        expected: Any = self.value
        if self.field == "severity":
            actual = Severity(actual)
            expected = (
                tuple(Severity(v) for v in expected)
                if isinstance(expected, tuple)
                else Severity(expected)
            )
        match self.op:
            case "==":
                return bool(actual == expected)
            case "!=":
                return bool(actual != expected)
            case "in":
                return actual in expected
            case "not in":
                return actual not in expected
            case "contains":
                return expected in actual
            case ">=":
                return bool(actual >= expected)
            case "<=":
                return bool(actual <= expected)
            case ">":
                return bool(actual > expected)
            case "<":
                return bool(actual < expected)
        raise AssertionError(f"unknown operator {self.op!r}")  # pragma: no cover

    def __str__(self) -> str:
        return f"{_format_field(self.field)} {self.op} {_format_value(self.field, self.value)}"


@dataclass(frozen=True, slots=True)
class Not(Condition):
    """`not operand`."""

    operand: Condition

    def _eval(self, ctx: Mapping[str, Any]) -> bool:
        return not self.operand._eval(ctx)

    def __str__(self) -> str:
        inner = str(self.operand)
        return f"not ({inner})" if isinstance(self.operand, And | Or) else f"not {inner}"


@dataclass(frozen=True, slots=True)
class And(Condition):
    """All operands hold (two or more, flattened: `a and b and c` is one node)."""

    operands: tuple[Condition, ...]

    def _eval(self, ctx: Mapping[str, Any]) -> bool:
        return all(o._eval(ctx) for o in self.operands)

    def __str__(self) -> str:
        return " and ".join(_wrap(o, (And, Or)) for o in self.operands)


@dataclass(frozen=True, slots=True)
class Or(Condition):
    """Any operand holds (two or more, flattened)."""

    operands: tuple[Condition, ...]

    def _eval(self, ctx: Mapping[str, Any]) -> bool:
        return any(o._eval(ctx) for o in self.operands)

    def __str__(self) -> str:
        # `and` binds tighter, so only a nested `or` needs parentheses to keep its shape.
        return " or ".join(_wrap(o, (Or,)) for o in self.operands)


def _wrap(node: Condition, kinds: tuple[type[Condition], ...]) -> str:
    return f"({node})" if isinstance(node, kinds) else str(node)


def _format_field(name: str) -> str:
    if name.startswith("labels."):
        key = name[len("labels.") :]
        if _LABEL_KEY.fullmatch(key):
            return name
        return f"labels[{_quote(key)}]"
    return name


def _format_value(field: str, value: Value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_format_value(field, v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return value if field in _ENUMS else _quote(value)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- context


def incident_context(incident: Mapping[str, Any] | Incident) -> dict[str, Any]:
    """Normalise an `Incident` or a dict of its fields to what conditions compare against.

    Dicts may name the systems `systems` or `affected_systems`; enum fields may be plain
    strings. Missing keys stay missing and compare as absent.
    """
    if isinstance(incident, Incident):
        return {
            "type": incident.type,
            "severity": incident.severity,
            "status": incident.status,
            "systems": tuple(incident.affected_systems),
            "labels": {str(k): str(v) for k, v in incident.labels.items()},
            "title": incident.title,
            "alert_count": incident.alert_count,
        }
    ctx: dict[str, Any] = {}
    for name, enum_type in (("type", IncidentType), ("severity", Severity), ("status", Status)):
        if incident.get(name) is not None:
            ctx[name] = enum_type(incident[name])
    systems = incident.get("systems", incident.get("affected_systems"))
    if systems is not None:
        ctx["systems"] = tuple(systems)
    ctx["labels"] = {str(k): str(v) for k, v in (incident.get("labels") or {}).items()}
    if incident.get("title") is not None:
        ctx["title"] = str(incident["title"])
    if incident.get("alert_count") is not None:
        ctx["alert_count"] = int(incident["alert_count"])
    return ctx


# --------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ident, kw, string, number, op, punct, end
    text: str
    column: int
    value: Scalar = ""


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        col = i + 1
        if c.isspace():
            i += 1
        elif c in "()[],":
            tokens.append(_Token("punct", c, col))
            i += 1
        elif text.startswith(("==", "!=", ">=", "<="), i):
            tokens.append(_Token("op", text[i : i + 2], col))
            i += 2
        elif c in "<>":
            tokens.append(_Token("op", c, col))
            i += 1
        elif c == "=":
            raise ConditionError("use '==' to compare", col)
        elif c == "!":
            raise ConditionError("use '!=' or 'not'", col)
        elif c in "\"'":
            value, i = _scan_string(text, i)
            tokens.append(_Token("string", text[col - 1 : i], col, value))
        elif (m := _NUMBER.match(text, i)) is not None:
            digits = m.group()
            i = m.end()
            if i < n and (text[i].isalnum() or text[i] in "_."):
                raise ConditionError(f"malformed number starting {digits!r}", col)
            if len(digits.lstrip("-")) > _MAX_NUMBER_DIGITS:
                raise ConditionError("number too large", col)
            tokens.append(_Token("number", digits, col, int(digits)))
        elif (m := _IDENT.match(text, i)) is not None:
            word = m.group()
            i = m.end()
            tokens.append(_Token("kw" if word in _KEYWORDS else "ident", word, col))
        else:
            raise ConditionError(f"unexpected character {c!r}", col)
    tokens.append(_Token("end", "", n + 1))
    return tokens


def _scan_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif c == quote:
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise ConditionError("unterminated string", start + 1)


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def expect(self, kind: str, text: str, what: str) -> _Token:
        if not self.at(kind, text):
            raise ConditionError(f"expected {what}, found {_describe(self.tok)}", self.tok.column)
        return self.advance()

    def parse(self) -> Condition:
        if self.at("end"):
            raise ConditionError("empty condition", self.tok.column)
        node = self.or_expr(0)
        if not self.at("end"):
            raise ConditionError(
                f"expected 'and', 'or' or the end, found {_describe(self.tok)}", self.tok.column
            )
        return node

    def or_expr(self, depth: int) -> Condition:
        operands = [self.and_expr(depth)]
        while self.at("kw", "or"):
            self.advance()
            operands.append(self.and_expr(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self, depth: int) -> Condition:
        operands = [self.not_expr(depth)]
        while self.at("kw", "and"):
            self.advance()
            operands.append(self.not_expr(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_expr(self, depth: int) -> Condition:
        if self.at("kw", "not"):
            self._check_depth(depth)
            self.advance()
            return Not(self.not_expr(depth + 1))
        return self.primary(depth)

    def primary(self, depth: int) -> Condition:
        tok = self.tok
        if self.at("punct", "("):
            self._check_depth(depth)
            self.advance()
            node = self.or_expr(depth + 1)
            self.expect("punct", ")", "')'")
            return node
        if tok.kind == "kw" and tok.text in ("true", "false"):
            self.advance()
            return Const(tok.text == "true")
        if tok.kind == "ident":
            return self.comparison()
        raise ConditionError(f"expected a condition, found {_describe(tok)}", tok.column)

    def _check_depth(self, depth: int) -> None:
        if depth >= MAX_DEPTH:
            raise ConditionError(f"nested more than {MAX_DEPTH} levels deep", self.tok.column)

    def comparison(self) -> Condition:
        field_tok = self.advance()
        field = self.field_name(field_tok)
        kind, allowed = _FIELD_KINDS["labels" if field.startswith("labels.") else field]
        op_tok = self.tok
        op = self.operator()
        if op not in allowed:
            raise ConditionError(
                f"{_format_field(field)} does not support '{op}' "
                f"(use {', '.join(repr(a) for a in allowed)})",
                op_tok.column,
            )
        value = self.value(field, kind, op)
        return Compare(field, op, value)

    def field_name(self, tok: _Token) -> str:
        name = tok.text
        if name == "labels" and self.at("punct", "["):
            self.advance()
            key_tok = self.tok
            if key_tok.kind != "string":
                raise ConditionError("expected a quoted label key", key_tok.column)
            self.advance()
            self.expect("punct", "]", "']'")
            return f"labels.{key_tok.value}"
        if name in ("labels", "labels.") or name.startswith("labels."):
            if name in ("labels", "labels."):
                raise ConditionError("label key missing: write labels.<key>", tok.column)
            return name
        if name in _FIELD_KINDS and name != "labels":
            return name
        raise ConditionError(
            f"unknown field {name!r} (fields: {', '.join(FIELDS)})",
            tok.column,
        )

    def operator(self) -> str:
        tok = self.tok
        if tok.kind == "op" or (tok.kind == "kw" and tok.text in ("in", "contains")):
            self.advance()
            return tok.text
        if self.at("kw", "not"):
            self.advance()
            self.expect("kw", "in", "'in' after 'not'")
            return "not in"
        raise ConditionError(f"expected an operator, found {_describe(tok)}", tok.column)

    def value(self, field: str, kind: str, op: str) -> Value:
        if op in MEMBERSHIP:
            open_tok = self.tok
            if not self.at("punct", "["):
                raise ConditionError(
                    f"'{op}' needs a list like [a, b], found {_describe(open_tok)}",
                    open_tok.column,
                )
            self.advance()
            items: list[Scalar] = []
            if not self.at("punct", "]"):
                items.append(self.scalar(field, kind))
                while self.at("punct", ","):
                    self.advance()
                    items.append(self.scalar(field, kind))
            self.expect("punct", "]", "',' or ']'")
            return tuple(items)
        if self.at("punct", "["):
            raise ConditionError(
                f"'{op}' compares with a single value, not a list", self.tok.column
            )
        return self.scalar(field, "str" if kind == "list" else kind)

    def scalar(self, field: str, kind: str) -> Scalar:
        tok = self.advance()
        if kind == "enum":
            if tok.kind not in ("ident", "string"):
                raise ConditionError(_enum_hint(field, tok), tok.column)
            word = str(tok.value) if tok.kind == "string" else tok.text
            allowed = _ENUMS[field]
            for candidate in allowed:
                if word.lower() == candidate.lower():
                    return candidate
            raise ConditionError(_enum_hint(field, tok), tok.column)
        if kind == "int":
            if tok.kind != "number":
                raise ConditionError(
                    f"{field} compares with a whole number, found {_describe(tok)}", tok.column
                )
            return int(tok.value)
        if tok.kind == "string":
            return str(tok.value)
        if tok.kind == "ident":
            raise ConditionError(
                f'{_format_field(field)} compares with a quoted string: write "{tok.text}"',
                tok.column,
            )
        raise ConditionError(
            f"{_format_field(field)} compares with a quoted string, found {_describe(tok)}",
            tok.column,
        )


def _enum_hint(field: str, tok: _Token) -> str:
    return f"{field} must be one of {', '.join(_ENUMS[field])}, found {_describe(tok)}"


def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return "the end"
    return repr(tok.text)


def parse_condition(text: str) -> Condition:
    """Parse a `when` condition; raise ConditionError naming the column of the problem."""
    return _parse_cached(text)


# Trees are immutable, so the engine can re-parse a frozen playbook's conditions for free.
@functools.lru_cache(maxsize=1024)
def _parse_cached(text: str) -> Condition:
    return _Parser(text).parse()
