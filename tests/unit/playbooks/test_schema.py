"""The published JSON Schema of the playbook format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from defib.playbooks.spec import SCHEMA_PATH, render_schema

jsonschema = pytest.importorskip("jsonschema")

BUILTIN_DIR = Path(SCHEMA_PATH).with_name("builtin")


def test_committed_schema_is_up_to_date() -> None:
    """schema.json equals what the models generate; run `defib playbooks schema --write`."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema()


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_builtin_playbooks_validate_against_the_schema(path: Path) -> None:
    """Editors using the schema accept every shipped playbook."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(path.read_text()))


def test_schema_rejects_unknown_keys_and_bad_enums() -> None:
    """The schema is as strict as the models about keys and enum values."""
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    doc = {
        "name": "x",
        "applies_to": ["bias"],
        "steps": [{"name": "a", "action": "b", "colour": 1, "on_failure": "later"}],
    }
    messages = sorted(e.message for e in validator.iter_errors(doc))
    assert len(messages) == 2
    assert any("colour" in m for m in messages)
    assert any("later" in m for m in messages)
