"""The playbook models: defaults, error messages, freezing and retry backoff."""

from __future__ import annotations

import json
import pickle
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from defib.auth import Role
from defib.model import IncidentType
from defib.playbooks.spec import (
    Approval,
    OnFailure,
    OnTimeout,
    Playbook,
    PlaybookError,
    PlaybookErrors,
    Retries,
    Step,
    backoff_delays,
    parse_playbook,
)


def playbook_data(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "leak",
        "applies_to": ["data_leak"],
        "steps": list(steps) or [{"name": "tell", "action": "notify_team"}],
    }
    data.update(top)
    return data


def errors_of(data: object, file: str | None = "playbooks/leak.yaml") -> list[PlaybookError]:
    with pytest.raises(PlaybookErrors) as info:
        parse_playbook(data, file=file)
    return info.value.errors


def test_step_defaults_match_the_documented_ones() -> None:
    """A step with only name and action gets the documented timeout, retries and approval."""
    step = Step(name="tell", action="notify_team")
    assert step.params == {}
    assert step.when is None
    assert step.timeout_seconds == 300
    assert step.retries == Retries(count=0, backoff_seconds=1, max_backoff_seconds=60)
    assert step.on_failure is OnFailure.CONTINUE
    assert step.approval == Approval(
        required=False, role=Role.RESPONDER, timeout_seconds=4 * 3600, on_timeout=OnTimeout.ABORT
    )


def test_playbook_defaults_version_and_description() -> None:
    """Only name, a target and steps are required; version defaults to 1."""
    pb = parse_playbook(playbook_data())
    assert pb.version == 1
    assert pb.description == ""
    assert pb.incident_types == (IncidentType.DATA_LEAK,)
    assert not pb.is_generic


def test_error_names_file_step_and_key() -> None:
    """A bad nested value is reported as `file: step N 'name': key.path: message`."""
    steps: list[dict[str, Any]] = [
        {"name": "contain", "action": "disable_endpoint"},
        {"name": "tell", "action": "notify_team"},
        {
            "name": "notify_users",
            "action": "notify_affected_users",
            "approval": {"required": True, "on_timeout": "later"},
        },
    ]
    (error,) = errors_of(playbook_data(*steps))
    assert str(error) == (
        "playbooks/leak.yaml: step 3 'notify_users': approval.on_timeout: "
        "must be one of abort, skip, proceed (got 'later')"
    )
    assert (error.file, error.step, error.step_number, error.key) == (
        "playbooks/leak.yaml",
        "notify_users",
        3,
        "approval.on_timeout",
    )


def test_all_errors_are_reported_at_once() -> None:
    """Problems in several steps and at the top level all come back together."""
    errors = errors_of(
        playbook_data(
            {"name": "a", "action": "x", "timeout_seconds": 0},
            {"name": "b", "action": "x", "on_failure": "explode"},
            version="one",
        )
    )
    assert sorted(str(e) for e in errors) == [
        "playbooks/leak.yaml: step 1 'a': timeout_seconds: must be greater than 0 (got 0)",
        "playbooks/leak.yaml: step 2 'b': on_failure: must be one of continue, abort "
        "(got 'explode')",
        "playbooks/leak.yaml: version: must be a whole number or a semver string like 1.2.0 "
        "(got 'one')",
    ]


def test_unknown_key_is_an_error_with_a_suggestion() -> None:
    """Misspelt keys are rejected (extra="forbid") and the closest real key is suggested."""
    (error,) = errors_of(playbook_data({"name": "a", "action": "x", "timout_seconds": 5}))
    assert error.key == "timout_seconds"
    assert "unknown key (did you mean 'timeout_seconds'?" in error.message


def test_unknown_top_level_key_is_an_error() -> None:
    """Keys the playbook format does not define are rejected at the top level too."""
    (error,) = errors_of(playbook_data(owner="me"))
    assert error.step_number is None
    assert error.key == "owner"
    assert error.message.startswith("unknown key")


def test_missing_required_key_is_named() -> None:
    """A step without an action is reported as `action: is required`."""
    (error,) = errors_of(playbook_data({"name": "a"}))
    assert str(error) == "playbooks/leak.yaml: step 1 'a': action: is required"


def test_step_that_is_not_a_mapping_is_reported_once() -> None:
    """A scalar in the steps list is one error on that step, not also 'too few steps'."""
    (error,) = errors_of(playbook_data({"name": "a", "action": "x"}, "oops"))  # type: ignore[arg-type]
    assert str(error) == "playbooks/leak.yaml: step 2: must be a mapping (got 'oops')"


def test_empty_steps_are_rejected() -> None:
    """A playbook needs at least one step."""
    (error,) = errors_of({"name": "leak", "applies_to": ["bias"], "steps": []})
    assert str(error) == "playbooks/leak.yaml: steps: must list at least one step"


def test_duplicate_step_names_point_at_the_second_step() -> None:
    """Step names are unique; the error sits on the repeat and names the first."""
    (error,) = errors_of(
        playbook_data(
            {"name": "tell", "action": "notify_team"},
            {"name": "wait", "action": "wait"},
            {"name": "tell", "action": "notify_team"},
        )
    )
    assert str(error) == (
        "playbooks/leak.yaml: step 3 'tell': name: name 'tell' is already used by step 1"
    )


@pytest.mark.parametrize("name", ["Leak", "leak playbook", "-leak", "leak_", ""])
def test_names_must_be_slugs(name: str) -> None:
    """Playbook and step names are lowercase slugs."""
    (error,) = errors_of(playbook_data({"name": name, "action": "x"}))
    assert error.key == "name"
    assert error.message.startswith("must be a slug")


@pytest.mark.parametrize("version", [0, 3, "1.2.0", "2.0.0-rc.1+build.5"])
def test_version_accepts_whole_numbers_and_semver(version: int | str) -> None:
    """Versions are whole numbers or semver strings, kept as written."""
    assert parse_playbook(playbook_data(version=version)).version == version


@pytest.mark.parametrize("version", [1.0, True, -1, "v1", "1.2", None])
def test_version_rejects_other_values(version: object) -> None:
    """Floats (YAML's `1.0`), booleans, negatives and non-semver strings are errors."""
    (error,) = errors_of(playbook_data(version=version))
    assert error.key == "version"


def test_applies_to_rejects_unknown_types_by_position() -> None:
    """An unknown incident type is reported at its index in applies_to."""
    (error,) = errors_of(playbook_data(applies_to=["data_leak", "leakage"]))
    assert error.key == "applies_to[1]"
    assert "(got 'leakage')" in error.message


def test_applies_to_star_must_stand_alone() -> None:
    """'*' means every type, so naming types beside it is a contradiction."""
    (error,) = errors_of(playbook_data(applies_to=["*", "bias"]))
    assert error.key == "applies_to"


def test_playbook_must_target_something() -> None:
    """A playbook with no applies_to and not generic would never run."""
    (error,) = errors_of(playbook_data(applies_to=[]))
    assert error.key == "applies_to"


@pytest.mark.parametrize("top", [{"applies_to": ["*"]}, {"applies_to": [], "generic": True}])
def test_generic_playbook_is_marked_by_star_or_flag(top: dict[str, Any]) -> None:
    """Either spelling makes the fallback playbook."""
    assert parse_playbook(playbook_data(**top)).is_generic


def test_invalid_when_fails_validation_with_its_column() -> None:
    """Conditions are parsed at load time, so a typo is a validation error, not a run error."""
    (error,) = errors_of(playbook_data({"name": "a", "action": "x", "when": "severity >= SEV7"}))
    assert error.key == "when"
    assert error.message.startswith("column 13: severity must be one of")


def test_when_true_from_yaml_boolean_is_accepted() -> None:
    """YAML reads `when: false` as a boolean; it means the condition `false`."""
    pb = parse_playbook(playbook_data({"name": "a", "action": "x", "when": False}))
    assert pb.steps[0].when == "false"
    assert pb.steps[0].applies({}) is False


def test_step_applies_follows_its_condition() -> None:
    """`Step.applies` is true without `when`, else the condition's result."""
    always = Step(name="a", action="x")
    severe = Step(name="b", action="x", when="severity >= SEV2")
    assert always.applies({"severity": "SEV4"})
    assert severe.applies({"severity": "SEV1"})
    assert not severe.applies({"severity": "SEV3"})


def test_template_strings_in_params_are_kept_verbatim() -> None:
    """Params are free-form; `{{ ... }}` templates are left for the engine to render."""
    params = {"message": "{{ incident.id }}: {{ incident.title }}", "n": [1, {"a": None}]}
    pb = parse_playbook(playbook_data({"name": "a", "action": "x", "params": params}))
    assert pb.steps[0].params == params


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"when": __import__("datetime").date(2024, 1, 1)}, "params.when"),
        ({"deep": {"x": [1, float("nan")]}}, "params.deep.x[1]"),
        ({"ids": {1: "a"}}, "params.ids"),
    ],
)
def test_params_must_be_json(params: dict[str, Any], key: str) -> None:
    """Params are stored with the run as JSON, so dates, NaN and non-string keys are errors."""
    (error,) = errors_of(playbook_data({"name": "a", "action": "x", "params": params}))
    assert error.key == key


def test_models_are_frozen() -> None:
    """A loaded playbook cannot be changed in place."""
    pb = parse_playbook(playbook_data())
    with pytest.raises(ValidationError):
        pb.name = "other"  # type: ignore[misc]


def test_freeze_is_json_and_round_trips() -> None:
    """`freeze()` survives JSON and `from_dict` rebuilds an equal playbook."""
    pb = parse_playbook(
        playbook_data(
            {
                "name": "a",
                "action": "x",
                "when": "severity >= SEV2",
                "params": {"k": ["v"]},
                "retries": {"count": 3},
                "approval": {"required": True, "role": "admin"},
            },
            version="1.0.0",
        )
    )
    frozen = json.loads(json.dumps(pb.freeze()))
    assert Playbook.from_dict(frozen) == pb
    assert pb.to_dict() == frozen


def test_digest_changes_with_content_only() -> None:
    """Equal playbooks share a digest; any edit changes it."""
    a = parse_playbook(playbook_data())
    b = parse_playbook(playbook_data())
    c = parse_playbook(playbook_data(description="edited"))
    assert a.digest() == b.digest() != c.digest()


def test_from_dict_of_garbage_raises_playbook_errors() -> None:
    """A non-mapping is one clear error, not a pydantic traceback."""
    with pytest.raises(PlaybookErrors) as info:
        Playbook.from_dict(["not", "a", "playbook"], file="run 42")
    assert str(info.value) == "run 42: must be a mapping of playbook keys (got a list)"


def test_playbook_errors_survive_pickling() -> None:
    """Errors keep their location when pickled (e.g. across process boundaries)."""
    error = PlaybookError("bad", file="f.yaml", line=3, step="s", step_number=2, key="k")
    errors = pickle.loads(pickle.dumps(PlaybookErrors([error])))
    assert str(errors.errors[0]) == "f.yaml:3: step 2 's': k: bad"


def test_a_playbook_error_pickled_when_it_lived_in_spec_still_loads() -> None:
    """Pickles made before the errors moved to playbooks/errors.py name
    `defib.playbooks.spec._rebuild_error`; spec still answers to that name."""
    error = PlaybookError("bad", file="f.yaml", step="s", step_number=1)
    old = pickle.dumps(error, protocol=0).replace(
        b"defib.playbooks.errors", b"defib.playbooks.spec"
    )
    assert b"defib.playbooks.spec" in old
    assert str(pickle.loads(old)) == "f.yaml: step 1 's': bad"


def test_retries_max_backoff_below_base_is_an_error() -> None:
    """The backoff cap cannot be lower than the first backoff."""
    (error,) = errors_of(
        playbook_data(
            {
                "name": "a",
                "action": "x",
                "retries": {"backoff_seconds": 10, "max_backoff_seconds": 5},
            }
        )
    )
    assert error.key == "retries.max_backoff_seconds"


def test_backoff_delays_are_deterministic_for_a_seed() -> None:
    """Replaying a run with the same seed yields the same waits (needed for durable replay)."""
    retries = Retries(count=5, backoff_seconds=1, max_backoff_seconds=8)
    assert backoff_delays(retries, random.Random("run-1:2")) == backoff_delays(
        retries, random.Random("run-1:2")
    )


def test_backoff_delays_grow_exponentially_up_to_the_cap() -> None:
    """Retry n waits between half and all of min(cap, base * 2**(n-1))."""
    retries = Retries(count=6, backoff_seconds=1, max_backoff_seconds=8)
    delays = backoff_delays(retries, random.Random(0))
    assert len(delays) == 6
    for n, d in enumerate(delays, start=1):
        ceiling = min(8.0, 2.0 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling


def test_no_retries_means_no_delays() -> None:
    """The default policy retries nothing."""
    assert backoff_delays(Retries(), random.Random(0)) == []


def test_delay_attempts_start_at_one() -> None:
    """Attempt 0 is the first try, which has no delay before it."""
    with pytest.raises(ValueError, match="start at 1"):
        Retries(count=1).delay(0, random.Random(0))


@given(
    base=st.floats(min_value=0.001, max_value=100),
    factor=st.floats(min_value=1, max_value=1000),
    attempt=st.integers(min_value=1, max_value=10_000),
    seed=st.integers(),
)
def test_delay_never_exceeds_the_cap_or_drops_below_half_the_base(
    base: float, factor: float, attempt: int, seed: int
) -> None:
    """Whatever the attempt number, the wait stays within [base/2, max_backoff]."""
    retries = Retries(count=1, backoff_seconds=base, max_backoff_seconds=base * factor)
    d = retries.delay(attempt, random.Random(seed))
    assert base / 2 <= d <= base * factor
