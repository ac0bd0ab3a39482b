"""Alertmanager matchers (`=`, `!=`, `=~`, `!~`) over a label set. Pure.

Semantics follow Alertmanager: regular expressions are anchored at both ends, and a label
the alert does not carry has the empty value (so `team!=""` means "has a team label").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from defib.model import InvalidInput

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# name, operator, value (optionally double-quoted, as amtool and PromQL write it)
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
OPERATORS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.match(self.name):
            raise InvalidInput(f"matcher name {self.name!r}: not a label name")
        if self.is_regex:
            try:
                object.__setattr__(self, "_pattern", re.compile(f"^(?:{self.value})$"))
            except re.error as exc:
                raise InvalidInput(f"matcher {self.name}: bad regular expression: {exc}") from exc

    @property
    def operator(self) -> str:
        return (
            ("=~" if self.is_regex else "=") if self.is_equal else ("!~" if self.is_regex else "!=")
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self._pattern is not None:
            hit = self._pattern.match(value) is not None
        else:
            hit = value == self.value
        return hit if self.is_equal else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.operator}"{self.value}"'

    def to_dict(self) -> dict[str, Any]:
        """Alertmanager's v2 shape."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Matcher:
        return cls(
            str(data["name"]),
            str(data["value"]),
            bool(data.get("isRegex", False)),
            bool(data.get("isEqual", True)),
        )


def parse_matcher(text: str) -> Matcher:
    """`system=chat-api`, `severity=~"SEV1|SEV2"`, `type!=bias`."""
    m = _MATCHER.match(text)
    if m is None:
        raise InvalidInput(
            f"matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex"
        )
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    return Matcher(name, value, is_regex=op in ("=~", "!~"), is_equal=op in ("=", "=~"))


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Several matchers; `{a="b", c=~"d"}` (PromQL-style braces) is accepted too."""
    out: list[Matcher] = []
    for text in texts:
        body = text.strip()
        if body.startswith("{") and body.endswith("}"):
            out.extend(parse_matcher(p) for p in _split(body[1:-1]) if p.strip())
        else:
            out.append(parse_matcher(body))
    return tuple(out)


def _split(body: str) -> list[str]:
    """Split on commas outside double quotes."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in body:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers match (Alertmanager's AND)."""
    return all(m.matches(labels) for m in matchers)


def describe(matchers: Iterable[Matcher]) -> str:
    return "{" + ", ".join(str(m) for m in matchers) + "}"
