"""The published JSON Schema and the native adapter describe the same contract."""

import json
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from defib.intake.formats import PayloadError, parse_payload
from tests.support.ingest.helpers import DEV_SET, HELD_OUT, dataset, native


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    text = resources.files("defib.schemas").joinpath("native_alert.schema.json").read_text()
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _native_payloads() -> list[Any]:
    rows = [r for path in (DEV_SET, HELD_OUT) if path.exists() for r in dataset(path)]
    return [
        r["payload"]
        for r in rows
        if isinstance(r["payload"], dict)
        and "title" in r["payload"]
        and "alerts" not in r["payload"]
    ]


def test_every_native_dev_payload_validates(validator: Draft202012Validator) -> None:
    """Each native payload of the dev and held-out sets is valid under the schema."""
    payloads = _native_payloads()
    assert payloads
    for p in payloads:
        errors = [e.message for e in validator.iter_errors(p)]
        assert not errors, (p["title"], errors)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"severity": "error"},
        {"severity": None, "status": None, "samples": None},
        {"extra_field": {"nested": True}},
        {"title": ""},
        {"title": "   "},
        {"source": 3},
        {"severity": "sev0"},
        {"status": "open"},
        {"systems": ["a", 2]},
        {"value": "1"},
        {"value": True},
        {"type": "spam"},
        {"type": "bias"},
        {"labels": {"a": None}},
        {"labels": {"n": 3, "b": False}},
        {"occurred_at": "2025-01-07"},
        {"samples": [{"prompt": 1}]},
        {"samples": [{"prompt": "p", "response": "r", "user_id": None}]},
    ],
)
def test_adapter_and_schema_agree(validator: Draft202012Validator, fields: dict[str, Any]) -> None:
    """The adapter accepts exactly when the schema does, on edge cases of each field."""
    payload = native(**fields)
    schema_ok = validator.is_valid(payload)
    try:
        parse_payload(payload, "native")
        adapter_ok = True
    except PayloadError:
        adapter_ok = False
    assert adapter_ok == schema_ok


def test_missing_title_rejected_by_both(validator: Draft202012Validator) -> None:
    payload = native()
    del payload["title"]
    assert not validator.is_valid(payload)
    with pytest.raises(PayloadError):
        parse_payload(payload, "native")
