"""Loading playbooks from YAML: built-ins, user directories, overrides and errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from defib.auth import Role
from defib.model import IncidentType
from defib.playbooks.loader import (
    PlaybookSet,
    check_paths,
    load_builtin,
    load_dir,
    load_file,
    loads,
    validate_actions,
)
from defib.playbooks.spec import BUILTIN_ACTIONS, OnTimeout, PlaybookErrors

WriteYaml = Callable[[str, str], Path]


def minimal(name: str, types: str = "data_leak", action: str = "notify_team") -> str:
    return f"name: {name}\napplies_to: [{types}]\nsteps:\n  - name: tell\n    action: {action}\n"


# --------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        (
            "hallucination",
            [
                "disable_endpoint",
                "notify_team",
                "collect_evidence",
                "rollback_model",
                "verify_endpoint",
            ],
        ),
        (
            "toxicity",
            ["block_output", "notify_team", "review_guardrails", "update_content_filters"],
        ),
        (
            "data_leak",
            [
                "disable_endpoint",
                "notify_security_team",
                "preserve_evidence",
                "assess_data_impact",
                # Beyond the seed: issue 7's loop fixes a leak by rolling back and verifying.
                "rollback_model",
                "verify_endpoint",
                "notify_affected_users",
            ],
        ),
        ("generic", ["notify_team", "collect_evidence", "verify_endpoint"]),
    ],
)
def test_builtin_playbooks_have_the_seed_steps_in_order(name: str, steps: list[str]) -> None:
    """Each built-in runs the seed's actions (data_leak adds the fix), in the seed's order."""
    pb = load_builtin()[name]
    assert [s.action for s in pb.steps] == steps
    assert [s.name for s in pb.steps] == steps


def test_only_the_four_builtins_ship() -> None:
    """The package ships hallucination, toxicity, data_leak and generic."""
    assert sorted(load_builtin()) == ["data_leak", "generic", "hallucination", "toxicity"]


def test_builtin_actions_are_all_known() -> None:
    """Every built-in step names an action in BUILTIN_ACTIONS."""
    for pb in load_builtin().values():
        assert validate_actions(pb, BUILTIN_ACTIONS) == []


def test_builtin_params_carry_the_seed_details() -> None:
    """Evidence steps say what to collect: samples for hallucination, logs for a leak."""
    builtin = load_builtin()
    assert builtin["hallucination"].step("collect_evidence").params == {"flavour": "hallucination"}
    assert builtin["data_leak"].step("preserve_evidence").params == {"sources": ["logs"]}


def test_notifying_affected_users_needs_a_responders_approval() -> None:
    """The data-leak playbook waits for a responder before telling users, aborting if none."""
    approval = load_builtin()["data_leak"].step("notify_affected_users").approval
    assert approval.required
    assert approval.role is Role.RESPONDER
    assert approval.on_timeout is OnTimeout.ABORT
    other = [s.name for pb in load_builtin().values() for s in pb.steps if s.approval.required]
    # review_guardrails (toxicity) is the other human task: a person signs the review off.
    assert sorted(other) == ["notify_affected_users", "review_guardrails"]


def test_notify_steps_retry_three_times() -> None:
    """Notifications retry 3x with backoff: a flaky chat webhook must not lose the page."""
    for pb in load_builtin().values():
        for step in pb.steps:
            if step.action.startswith("notify_"):
                assert step.retries.count == 3, (pb.name, step.name)
                assert step.retries.max_backoff_seconds > step.retries.backoff_seconds


@pytest.mark.parametrize(
    ("incident_type", "playbook"),
    [
        (IncidentType.HALLUCINATION, "hallucination"),
        (IncidentType.TOXICITY, "toxicity"),
        (IncidentType.DATA_LEAK, "data_leak"),
        (IncidentType.PERFORMANCE, "generic"),
        (IncidentType.AVAILABILITY, "generic"),
        (IncidentType.BIAS, "generic"),
    ],
)
def test_each_type_gets_its_builtin_or_the_generic(
    incident_type: IncidentType, playbook: str
) -> None:
    """Types without a playbook of their own fall back to generic."""
    assert PlaybookSet.load().for_type(incident_type).name == playbook


# --------------------------------------------------------------------------- overrides


def test_user_playbook_naming_a_type_takes_it_over(write_yaml: WriteYaml) -> None:
    """A user playbook whose applies_to names a type replaces the built-in for that type."""
    path = write_yaml("perf.yaml", minimal("slow_model", "performance, data_leak"))
    playbooks = PlaybookSet.load(path.parent)
    assert playbooks.for_type(IncidentType.PERFORMANCE).name == "slow_model"
    assert playbooks.for_type("data_leak").name == "slow_model"
    assert playbooks.for_type(IncidentType.BIAS).name == "generic"
    assert "data_leak" in playbooks  # still listed, just not chosen
    assert playbooks.origin("slow_model") == "user"
    assert playbooks.source("slow_model") == str(path)


def test_user_playbook_with_a_builtin_name_replaces_it(write_yaml: WriteYaml) -> None:
    """Same name, user wins: `get` and `for_type` both return the user's version."""
    path = write_yaml("tox.yaml", minimal("toxicity", "toxicity"))
    playbooks = PlaybookSet.load(path.parent)
    assert playbooks.get("toxicity").steps[0].name == "tell"
    assert playbooks.for_type(IncidentType.TOXICITY) is playbooks.get("toxicity")
    assert len(playbooks) == 4


def test_user_generic_replaces_the_builtin_generic(write_yaml: WriteYaml) -> None:
    """A user fallback playbook is used for every type nothing else claims."""
    path = write_yaml("fallback.yml", minimal("our_fallback", "'*'"))
    playbooks = PlaybookSet.load(path.parent)
    assert playbooks.for_type(IncidentType.BIAS).name == "our_fallback"
    assert playbooks.for_type(IncidentType.TOXICITY).name == "toxicity"


def test_shadowing_the_generic_name_removes_the_fallback(write_yaml: WriteYaml) -> None:
    """A user playbook called `generic` that is not generic leaves some types without one."""
    path = write_yaml("generic.yaml", minimal("generic", "bias"))
    playbooks = PlaybookSet.load(path.parent)
    assert playbooks.for_type(IncidentType.BIAS).name == "generic"
    with pytest.raises(LookupError, match="no playbook for 'performance'"):
        playbooks.for_type(IncidentType.PERFORMANCE)


def test_two_user_playbooks_claiming_one_type_is_an_error(write_yaml: WriteYaml) -> None:
    """Which one would run would be arbitrary, so loading refuses and names the file."""
    write_yaml("a.yaml", minimal("first", "bias"))
    path = write_yaml("b.yaml", minimal("second", "bias"))
    with pytest.raises(PlaybookErrors) as info:
        PlaybookSet.load(path.parent)
    assert [str(e) for e in info.value.errors] == [
        f"{path}: applies_to: type 'bias' is already handled by playbook 'first'"
    ]


# --------------------------------------------------------------------------- files and errors


def test_load_dir_reads_yaml_and_yml_only(write_yaml: WriteYaml) -> None:
    """Both suffixes load; other files in the directory are ignored."""
    write_yaml("a.yaml", minimal("alpha"))
    write_yaml("b.yml", minimal("beta", "bias"))
    path = write_yaml("notes.txt", "not yaml: [")
    assert sorted(load_dir(path.parent)) == ["alpha", "beta"]


def test_load_dir_aggregates_errors_from_every_file(write_yaml: WriteYaml) -> None:
    """One bad file does not hide another; each error names its own file."""
    a = write_yaml("a.yaml", "name: a\napplies_to: [bias]\nsteps: []\n")
    write_yaml("b.yaml", minimal("fine"))
    c = write_yaml("c.yaml", "name: [c\n")
    with pytest.raises(PlaybookErrors) as info:
        load_dir(a.parent)
    files = [e.file for e in info.value.errors]
    assert files == [str(a), str(c)]


def test_duplicate_playbook_names_across_files_are_an_error(write_yaml: WriteYaml) -> None:
    """Two files defining one name: the second is reported, naming the first."""
    a = write_yaml("a.yaml", minimal("same"))
    b = write_yaml("b.yaml", minimal("same", "bias"))
    with pytest.raises(PlaybookErrors) as info:
        load_dir(a.parent)
    assert [str(e) for e in info.value.errors] == [
        f"{b}: name: playbook 'same' is already defined in {a}"
    ]


def test_missing_directory_is_reported() -> None:
    """Pointing at a directory that does not exist is an error, not an empty set."""
    with pytest.raises(PlaybookErrors, match="not a directory"):
        load_dir("/nonexistent/playbooks")


def test_yaml_syntax_error_names_file_and_line() -> None:
    """Broken YAML is reported with the file and the 1-based line of the problem."""
    text = "name: x\nsteps:\n  - name: a\n    action: [b\n"
    with pytest.raises(PlaybookErrors) as info:
        loads(text, file="p.yaml")
    (error,) = info.value.errors
    assert error.file == "p.yaml"
    assert error.line == 5
    assert str(error).startswith("p.yaml:5: invalid YAML: ")


def test_duplicate_yaml_keys_are_an_error() -> None:
    """PyYAML would silently keep the last of two equal keys; we refuse instead."""
    with pytest.raises(PlaybookErrors) as info:
        loads("name: a\nname: b\nsteps: []\n", file="p.yaml")
    assert str(info.value) == "p.yaml:2: invalid YAML: duplicate key 'name' (column 1)"


def test_validation_errors_carry_the_line_of_the_key() -> None:
    """A bad value deep in a step is reported on the line where it is written."""
    text = (
        "name: leak\n"
        "applies_to: [data_leak]\n"
        "steps:\n"
        "  - name: contain\n"
        "    action: disable_endpoint\n"
        "  - name: notify_users\n"
        "    action: notify_affected_users\n"
        "    approval:\n"
        "      required: true\n"
        "      on_timeout: later\n"
    )
    with pytest.raises(PlaybookErrors) as info:
        loads(text, file="playbooks/leak.yaml")
    assert str(info.value) == (
        "playbooks/leak.yaml:10: step 2 'notify_users': approval.on_timeout: "
        "must be one of abort, skip, proceed (got 'later')"
    )


def test_missing_key_points_at_its_parent() -> None:
    """A missing key has no line of its own, so the error uses its parent's."""
    text = "name: leak\napplies_to: [bias]\nsteps:\n  - name: a\n    when: true\n"
    with pytest.raises(PlaybookErrors) as info:
        loads(text, file="p.yaml")
    assert str(info.value) == "p.yaml:4: step 1 'a': action: is required"


def test_empty_file_is_not_a_playbook(write_yaml: WriteYaml) -> None:
    """An empty file parses to null, which is reported plainly."""
    path = write_yaml("empty.yaml", "")
    with pytest.raises(PlaybookErrors, match="must be a mapping of playbook keys"):
        load_file(path)


def test_validate_actions_reports_unknown_actions_with_a_hint() -> None:
    """Action names are checked against the registry's names passed in."""
    pb = loads(minimal("p", action="notify_teams"))
    (error,) = validate_actions(pb, {"notify_team", "wait"}, file="p.yaml")
    assert str(error) == (
        "p.yaml: step 1 'tell': action: unknown action 'notify_teams' (did you mean 'notify_team'?)"
    )


def test_set_validate_actions_names_the_source_file(write_yaml: WriteYaml) -> None:
    """Across a set, unknown actions are reported with the file they came from."""
    path = write_yaml("x.yaml", minimal("x", "bias", action="page_ceo"))
    errors = PlaybookSet.load(path.parent).validate_actions(BUILTIN_ACTIONS)
    assert [e.file for e in errors] == [str(path)]


def test_check_paths_reports_per_file(write_yaml: WriteYaml) -> None:
    """Good files get an empty error list; bad ones list their errors; order is kept."""
    good = write_yaml("good.yaml", minimal("good"))
    bad = write_yaml("bad.yaml", minimal("bad", "bias", action="nope"))
    results = dict(check_paths([good.parent], BUILTIN_ACTIONS))
    assert list(results) == [str(bad), str(good)]
    assert results[str(good)] == []
    assert [e.key for e in results[str(bad)]] == ["action"]


def test_check_paths_reports_missing_files() -> None:
    """A path that cannot be read is an error for that path."""
    ((file, errors),) = check_paths(["/nonexistent.yaml"], BUILTIN_ACTIONS)
    assert file == "/nonexistent.yaml"
    assert "cannot read" in errors[0].message


_yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
)
_yaml_data = st.recursive(
    _yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(["name", "steps", "action", "when", "approval"]), st.text()),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@given(
    st.fixed_dictionaries(
        {"name": _yaml_data, "applies_to": _yaml_data, "steps": st.lists(_yaml_data, max_size=3)}
    )
    | _yaml_data
)
def test_arbitrary_yaml_fails_only_with_playbook_errors(data: object) -> None:
    """Whatever shape a file has, loading it either works or raises located PlaybookErrors."""
    text = yaml.safe_dump(data)
    try:
        loads(text, file="fuzz.yaml")
    except PlaybookErrors as exc:
        errors = exc.errors
    else:
        return
    assert errors
    assert all(e.file == "fuzz.yaml" for e in errors)


def test_documentation_example_is_a_valid_playbook() -> None:
    """The YAML example in docs/playbooks.md loads, so the docs cannot drift from the format."""
    doc = (
        (Path(__file__).parents[2] / "playbooks/test_loader.py").parents[2]
        / "docs"
        / "playbooks.md"
    ).read_text(encoding="utf-8")
    match = re.search(r"```yaml\n(.*?)```", doc, re.DOTALL)
    assert match is not None
    pb = loads(match.group(1), file="docs/playbooks.md")
    assert validate_actions(pb, BUILTIN_ACTIONS) == []
