"""The `when` condition language: parsing, errors, printing and evaluation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from defib.model import Incident, IncidentType, Severity, Status
from defib.playbooks.conditions import (
    MAX_DEPTH,
    And,
    Compare,
    Condition,
    ConditionError,
    Const,
    Not,
    Or,
    incident_context,
    parse_condition,
)


def make_incident(**changes: Any) -> Incident:
    fields: dict[str, Any] = {
        "seq": 7,
        "type": IncidentType.DATA_LEAK,
        "severity": Severity.SEV2,
        "title": "PII in chat answers",
        "status": Status.DETECTED,
        "detected_at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "affected_systems": ("chat-api", "search"),
        "labels": {"env": "prod", "team": "assist"},
        "alert_count": 3,
    }
    fields.update(changes)
    return Incident(**fields)


INCIDENT = make_incident()


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("type == data_leak", True),
        ("type == 'data_leak'", True),
        ("type != data_leak", False),
        ("type in [hallucination, data_leak]", True),
        ("type not in [hallucination, toxicity]", True),
        ("status == detected", True),
        ("severity == SEV2", True),
        ("severity == sev2", True),
        ("severity >= SEV2", True),
        ("severity >= SEV1", False),
        ("severity > SEV3", True),
        ("severity <= SEV3", False),
        ("severity <= SEV2", True),
        ("severity < SEV2", False),
        ("severity in [SEV1, SEV2]", True),
        ('systems contains "chat-api"', True),
        ("systems contains 'chat'", False),
        ('title contains "PII"', True),
        ('title == "PII in chat answers"', True),
        ('title in ["a", "b"]', False),
        ('labels.env == "prod"', True),
        ("labels[\"env\"] == 'prod'", True),
        ('labels.env in ["prod", "staging"]', True),
        ('labels.team contains "ssi"', True),
        ("alert_count == 3", True),
        ("alert_count > 2 and alert_count <= 3", True),
        ("alert_count in [1, 2]", False),
        ("true", True),
        ("false", False),
        ("not true", False),
        ("type == bias or severity >= SEV2", True),
        ("type == bias or type == toxicity and true", False),
        ('(type == bias or type == data_leak) and labels.env == "prod"', True),
        ('not (systems contains "search")', False),
    ],
)
def test_condition_evaluates_against_an_incident(text: str, expected: bool) -> None:
    """Each operator compares the named incident field with the literal as documented."""
    assert parse_condition(text).evaluate(INCIDENT) is expected


@pytest.mark.parametrize(
    ("severity", "expected"),
    [(Severity.SEV1, True), (Severity.SEV2, True), (Severity.SEV3, False), (Severity.SEV4, False)],
)
def test_severity_at_least_means_at_least_as_severe(severity: Severity, expected: bool) -> None:
    """`severity >= SEV2` holds for SEV1 and SEV2 only, since SEV1 is the most severe."""
    condition = parse_condition("severity >= SEV2")
    assert condition.evaluate(make_incident(severity=severity)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('labels.region == "eu"', False),
        ('labels.region != "eu"', True),
        ('labels.region in ["eu"]', False),
        ('labels.region not in ["eu"]', True),
        ('labels.region contains "e"', False),
    ],
)
def test_missing_label_compares_as_absent(text: str, expected: bool) -> None:
    """A label the incident lacks equals nothing and is in nothing."""
    assert parse_condition(text).evaluate(INCIDENT) is expected


def test_and_binds_tighter_than_or() -> None:
    """`a or b and c` groups as `a or (b and c)`."""
    a, b, c = (parse_condition(f"alert_count == {i}") for i in (1, 2, 3))
    assert parse_condition("alert_count == 1 or alert_count == 2 and alert_count == 3") == Or(
        (a, And((b, c)))
    )


def test_chains_flatten_into_one_node() -> None:
    """`a and b and c` is a single And with three operands, so deep chains cannot recurse."""
    node = parse_condition(" and ".join(["true"] * 500))
    assert isinstance(node, And)
    assert len(node.operands) == 500
    assert node.evaluate(INCIDENT) is True


def test_dict_context_accepts_affected_systems_and_plain_strings() -> None:
    """An incident dict from storage works: enum values as strings, either systems key."""
    ctx = {
        "type": "data_leak",
        "severity": "SEV1",
        "status": "acknowledged",
        "affected_systems": ["chat-api"],
        "labels": {"env": "prod"},
        "title": "x",
        "alert_count": 5,
    }
    condition = parse_condition(
        "type == data_leak and severity > SEV2 and status == acknowledged and "
        'systems contains "chat-api" and labels.env == "prod" and alert_count >= 5'
    )
    assert condition.evaluate(ctx) is True


def test_context_of_incident_and_its_dict_form_agree() -> None:
    """`incident_context` gives the same view of an Incident and of its dict form."""
    as_dict = {
        "type": "data_leak",
        "severity": "SEV2",
        "status": "detected",
        "systems": ["chat-api", "search"],
        "labels": {"env": "prod", "team": "assist"},
        "title": "PII in chat answers",
        "alert_count": 3,
    }
    assert incident_context(INCIDENT) == incident_context(as_dict)


def test_missing_fields_in_a_dict_compare_as_absent() -> None:
    """A dict without `severity` matches no severity comparison but satisfies `!=`."""
    assert parse_condition("severity >= SEV4").evaluate({}) is False
    assert parse_condition("severity != SEV1").evaluate({}) is True


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "empty condition"),
        ("   ", 4, "empty condition"),
        ("colour == red", 1, "unknown field 'colour'"),
        ("labels == 'x'", 1, "label key missing"),
        ("type = bias", 6, "use '=='"),
        ("type == bogus", 9, "type must be one of"),
        ("severity >= SEV9", 13, "severity must be one of SEV1, SEV2, SEV3, SEV4"),
        ("type > bias", 6, "does not support '>'"),
        ("systems == 'a'", 9, "does not support '=='"),
        ("title == abc", 10, 'write "abc"'),
        ("alert_count > 'x'", 15, "whole number"),
        ("alert_count > 1x", 15, "malformed number"),
        ("type in bias", 9, "needs a list"),
        ("type == [bias]", 9, "single value"),
        ("type in [bias", 14, "expected ',' or ']'"),
        ("title == 'abc", 10, "unterminated string"),
        ("(type == bias", 14, "expected ')'"),
        ("type == bias bias", 14, "expected 'and', 'or' or the end"),
        ("type == bias and", 17, "expected a condition"),
        ("type not bias", 10, "'in' after 'not'"),
        ("type", 5, "expected an operator"),
        ("title == 'a' # x", 14, "unexpected character '#'"),
        ("alert_count == 1234567890123456789", 16, "number too large"),
        ("(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1), MAX_DEPTH + 1, "nested"),
        ("not " * (MAX_DEPTH + 1) + "true", MAX_DEPTH * 4 + 1, "nested"),
    ],
)
def test_parse_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    """Each mistake raises ConditionError pointing at the column where it starts."""
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert info.value.column == column
    assert fragment in info.value.message
    assert str(info.value).startswith(f"column {column}: ")


# --------------------------------------------------------------------------- properties

_ENUMS = {
    "type": [t.value for t in IncidentType],
    "severity": [s.value for s in Severity],
    "status": [s.value for s in Status],
}
_ints = st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1)
_texts = st.text(max_size=8)


def _enum_compare(field: str) -> st.SearchStrategy[Condition]:
    values = st.sampled_from(_ENUMS[field])
    ops = ["==", "!="] + ([">=", "<=", ">", "<"] if field == "severity" else [])
    return st.one_of(
        st.builds(Compare, st.just(field), st.sampled_from(ops), values),
        st.builds(
            Compare,
            st.just(field),
            st.sampled_from(["in", "not in"]),
            st.lists(values, max_size=3).map(tuple),
        ),
    )


def _string_compare(field: st.SearchStrategy[str]) -> st.SearchStrategy[Condition]:
    return st.one_of(
        st.builds(Compare, field, st.sampled_from(["==", "!=", "contains"]), _texts),
        st.builds(
            Compare,
            field,
            st.sampled_from(["in", "not in"]),
            st.lists(_texts, max_size=3).map(tuple),
        ),
    )


_leaves: st.SearchStrategy[Condition] = st.one_of(
    st.builds(Const, st.booleans()),
    _enum_compare("type"),
    _enum_compare("severity"),
    _enum_compare("status"),
    st.builds(Compare, st.just("systems"), st.just("contains"), _texts),
    _string_compare(st.just("title")),
    _string_compare(st.text(max_size=6).map(lambda k: f"labels.{k}")),
    st.builds(
        Compare, st.just("alert_count"), st.sampled_from(["==", "!=", ">=", "<=", ">", "<"]), _ints
    ),
    st.builds(
        Compare,
        st.just("alert_count"),
        st.sampled_from(["in", "not in"]),
        st.lists(_ints, max_size=3).map(tuple),
    ),
)

conditions: st.SearchStrategy[Condition] = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: And(tuple(ops))),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
    ),
    max_leaves=10,
)

contexts = st.fixed_dictionaries(
    {
        "type": st.sampled_from(_ENUMS["type"]),
        "severity": st.sampled_from(_ENUMS["severity"]),
        "status": st.sampled_from(_ENUMS["status"]),
        "systems": st.lists(_texts, max_size=3),
        "labels": st.dictionaries(st.text(max_size=6), _texts, max_size=3),
        "title": _texts,
        "alert_count": st.integers(min_value=0, max_value=100),
    }
)


def _depth(node: Condition) -> int:
    if isinstance(node, Not):
        return 1 + _depth(node.operand)
    if isinstance(node, And | Or):
        return 1 + max(_depth(o) for o in node.operands)
    return 0


_TOKENS = [
    "type",
    "severity",
    "status",
    "systems",
    "labels.env",
    "labels",
    "title",
    "alert_count",
    "==",
    "!=",
    ">=",
    "<=",
    ">",
    "<",
    "=",
    "!",
    "in",
    "not",
    "contains",
    "and",
    "or",
    "(",
    ")",
    "[",
    "]",
    ",",
    "SEV1",
    "bias",
    "data_leak",
    "'x'",
    '"y"',
    "'",
    "3",
    "-1",
    "true",
    "false",
    "\\",
    "labels[",
    "#",
]


@given(st.text())
def test_parse_only_ever_raises_condition_error_on_arbitrary_text(text: str) -> None:
    """Whatever the input, parsing either succeeds or raises ConditionError."""
    try:
        parse_condition(text)
    except ConditionError as exc:
        column = exc.column
    else:
        return
    assert 1 <= column <= len(text) + 1


@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map(" ".join))
def test_parse_only_ever_raises_condition_error_on_token_soup(text: str) -> None:
    """Near-miss inputs built from real tokens also fail only with ConditionError."""
    try:
        condition = parse_condition(text)
    except ConditionError:
        return
    assert parse_condition(str(condition)) == condition


@given(conditions)
def test_printing_and_reparsing_gives_the_same_tree(condition: Condition) -> None:
    """`str()` prints a tree in a form the parser reads back into an equal tree."""
    assume(_depth(condition) < MAX_DEPTH)
    assert parse_condition(str(condition)) == condition


@given(conditions, contexts)
def test_not_inverts_the_result(condition: Condition, ctx: dict[str, Any]) -> None:
    """`not c` holds exactly when `c` does not, both as a tree and as parsed text."""
    assume(_depth(condition) < MAX_DEPTH - 1)
    assert Not(condition).evaluate(ctx) is (not condition.evaluate(ctx))
    assert parse_condition(f"not ({condition})").evaluate(ctx) is (not condition.evaluate(ctx))


@given(conditions, conditions, contexts)
def test_and_or_follow_boolean_logic(a: Condition, b: Condition, ctx: dict[str, Any]) -> None:
    """And/Or evaluate like Python's `and`/`or` over their operands."""
    assert And((a, b)).evaluate(ctx) is (a.evaluate(ctx) and b.evaluate(ctx))
    assert Or((a, b)).evaluate(ctx) is (a.evaluate(ctx) or b.evaluate(ctx))
