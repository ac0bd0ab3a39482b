"""Rule loading: YAML-shaped data to compiled `Rule`s, with errors naming rule and key.

A rule is parsed in two steps: its header (id, type, weight, enabled) and its matchers
(the `any`/`all`/`none` shorthand and the `match` mapping).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from defib.classify.matchers import FIELDS, Matcher, Rule
from defib.classify.triggers import triggers_of
from defib.model import IncidentType, InvalidInput

_RULE_KEYS = frozenset(
    {"id", "type", "weight", "match", "any", "all", "none", "enabled", "description"}
)
_MATCH_KEYS = frozenset({"any", "all", "none"})
SET_KEYS = frozenset({"version", "min_score", "headline_factor", "sample_weight", "rules"})


class RuleError(InvalidInput):
    """A rule file that cannot be used; the message names the rule id and key."""

    code = "invalid_rules"


def _compile(rule_id: str, where: str, patterns: object) -> list[re.Pattern[str]]:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns:
        raise RuleError(f"rule {rule_id!r}: {where} must be a non-empty list of regexes")
    out = []
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            raise RuleError(f"rule {rule_id!r}: {where}[{i}] must be a string regex")
        try:
            out.append(re.compile(p, re.IGNORECASE))
        except re.error as e:
            raise RuleError(
                f"rule {rule_id!r}: {where}[{i}] is not a valid regex {p!r}: {e}"
            ) from None
    return out


def _alternation(pats: Sequence[re.Pattern[str]]) -> re.Pattern[str]:
    # One search per matcher instead of one per pattern.
    if len(pats) == 1:
        return pats[0]
    return re.compile("|".join(f"(?:{p.pattern})" for p in pats), re.IGNORECASE)


def parse_matcher(rule_id: str, fname: str, spec: object) -> Matcher:
    where = f"match.{fname}"
    if fname not in FIELDS and not fname.startswith(("labels.", "annotations.")):
        raise RuleError(
            f"rule {rule_id!r}: unknown field {fname!r} in match; one of "
            f"{', '.join(sorted(FIELDS))}, labels.<name>, annotations.<name>"
        )
    if fname in ("labels.", "annotations."):
        raise RuleError(f"rule {rule_id!r}: {where} needs a name after the dot")
    if isinstance(spec, str | list):
        spec = {"any": spec}
    if not isinstance(spec, dict) or not spec:
        raise RuleError(f"rule {rule_id!r}: {where} must map any/all/none to regex lists")
    extra = set(spec) - _MATCH_KEYS
    if extra:
        raise RuleError(
            f"rule {rule_id!r}: {where}: unknown key {sorted(extra)[0]!r} (expected any, all, none)"
        )
    any_p = _compile(rule_id, f"{where}.any", spec["any"]) if "any" in spec else None
    triggers = triggers_of(any_p) if any_p and fname == "text" else None
    all_p = _compile(rule_id, f"{where}.all", spec["all"]) if "all" in spec else []
    none_p = _compile(rule_id, f"{where}.none", spec["none"]) if "none" in spec else None
    return Matcher(
        field=fname,
        any=_alternation(any_p) if any_p else None,
        all=tuple(all_p),
        none=_alternation(none_p) if none_p else None,
        triggers=triggers,
    )


@dataclass(frozen=True)
class RuleHeader:
    """Everything about a rule but its conditions."""

    id: str
    type: IncidentType | None
    weight: float | None
    enabled: bool


def parse_header(index: int, raw: object) -> RuleHeader:
    """Id, type, weight and enabled of rule number `index` (checked and normalised)."""
    if not isinstance(raw, dict):
        raise RuleError(f"rule #{index + 1}: must be a mapping with id, type and matchers")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise RuleError(f"rule #{index + 1}: missing 'id' (a non-empty string)")
    extra = set(raw) - _RULE_KEYS
    if extra:
        raise RuleError(
            f"rule {rule_id!r}: unknown key {sorted(extra)[0]!r} "
            f"(expected {', '.join(sorted(_RULE_KEYS))})"
        )
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"rule {rule_id!r}: 'enabled' must be true or false")
    itype = _parse_type(rule_id, raw.get("type"), enabled)
    weight = raw.get("weight")
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0
    ):
        raise RuleError(f"rule {rule_id!r}: 'weight' must be a positive number")
    if weight is not None and itype is None:
        raise RuleError(f"rule {rule_id!r}: a 'none' rule is decisive; drop its 'weight'")
    return RuleHeader(rule_id, itype, float(weight) if weight is not None else None, enabled)


def _parse_type(rule_id: str, type_raw: object, enabled: bool) -> IncidentType | None:
    if not isinstance(type_raw, str) and type_raw is not None:
        raise RuleError(f"rule {rule_id!r}: 'type' must be an incident type or none")
    if type_raw is None and enabled:
        raise RuleError(f"rule {rule_id!r}: missing 'type' (an incident type or none)")
    if type_raw is None or type_raw.lower() in ("none", "null"):
        return None
    try:
        return IncidentType(type_raw.lower())
    except ValueError:
        raise RuleError(
            f"rule {rule_id!r}: type {type_raw!r} is not one of "
            f"{', '.join(t.value for t in IncidentType)}, none"
        ) from None


def parse_matchers(rule_id: str, raw: Mapping[str, Any], enabled: bool) -> tuple[Matcher, ...]:
    """The rule's conditions: top-level any/all/none (on `text`) and the `match` mapping."""
    matchers: list[Matcher] = []
    shorthand = {k: raw[k] for k in ("any", "all", "none") if k in raw}
    if shorthand:
        matchers.append(parse_matcher(rule_id, "text", shorthand))
    match = raw.get("match")
    if match is not None:
        if not isinstance(match, dict) or not match:
            raise RuleError(f"rule {rule_id!r}: 'match' must map field names to conditions")
        for fname, spec in match.items():
            matchers.append(parse_matcher(rule_id, str(fname), spec))
    if not matchers and enabled:
        raise RuleError(f"rule {rule_id!r}: no conditions (give 'match' or any/all/none)")
    return tuple(matchers)


def parse_rule(index: int, raw: object) -> Rule:
    """Rule number `index` of a rules list, compiled."""
    head = parse_header(index, raw)
    assert isinstance(raw, dict)  # parse_header refuses anything else
    return Rule(
        id=head.id,
        type=head.type,
        matchers=parse_matchers(head.id, raw, head.enabled),
        weight=head.weight,
        enabled=head.enabled,
    )


def positive(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleError(f"rules: {key!r} must be a non-negative number")
    return float(value)
