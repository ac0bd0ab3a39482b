"""`defib playbooks` commands: list, show, validate, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from defib.cli.playbooks import app
from defib.playbooks.loader import load_builtin
from defib.playbooks.spec import render_schema

WriteYaml = Callable[[str, str], Path]
runner = CliRunner()

USER = (
    "name: slow_model\napplies_to: [performance]\nsteps:\n  - name: tell\n    action: notify_team\n"
)


@pytest.fixture(autouse=True)
def no_env_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without DEFIB_PLAYBOOKS_DIR, whatever the developer's shell has."""
    monkeypatch.delenv("DEFIB_PLAYBOOKS_DIR", raising=False)


def test_list_shows_every_builtin() -> None:
    """The table lists each built-in with its applies_to."""
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for name in ("hallucination", "toxicity", "data_leak", "generic"):
        assert name in result.stdout


def test_list_json_has_name_version_applies_to_and_step_count() -> None:
    """`--json` gives machine-readable rows, sorted by name."""
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["data_leak", "generic", "hallucination", "toxicity"]
    generic = rows[1]
    assert (generic["version"], generic["applies_to"], generic["steps"], generic["origin"]) == (
        1,
        ["*"],
        3,
        "builtin",
    )


def test_list_includes_user_playbooks_from_dir(write_yaml: WriteYaml) -> None:
    """`--dir` overlays a directory of user playbooks."""
    path = write_yaml("perf.yaml", USER)
    rows = json.loads(runner.invoke(app, ["list", "--json", "--dir", str(path.parent)]).stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["slow_model"]["origin"] == "user"
    assert by_name["slow_model"]["source"] == str(path)


def test_dir_defaults_to_the_environment_variable(
    write_yaml: WriteYaml, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DEFIB_PLAYBOOKS_DIR is used when --dir is not given."""
    path = write_yaml("perf.yaml", USER)
    monkeypatch.setenv("DEFIB_PLAYBOOKS_DIR", str(path.parent))
    rows = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert "slow_model" in [r["name"] for r in rows]


def test_invalid_dir_exits_2_with_errors_on_stderr(write_yaml: WriteYaml) -> None:
    """A broken user directory stops list with each error on stderr."""
    path = write_yaml("bad.yaml", "name: bad\nsteps: []\n")
    result = runner.invoke(app, ["list", "--dir", str(path.parent)])
    assert result.exit_code == 2
    assert result.stderr == f"defib: error: {path}:2: steps: must list at least one step\n"


def test_show_lists_steps_with_action_and_approval() -> None:
    """`show` prints each step, its action and any approval it waits for."""
    result = runner.invoke(app, ["show", "data_leak"])
    assert result.exit_code == 0, result.output
    assert "7. notify_affected_users  action=notify_affected_users" in result.stdout
    assert "approval: responder, 4h, then abort" in result.stdout


def test_show_prints_when_conditions(write_yaml: WriteYaml) -> None:
    """A step's `when` appears under it."""
    path = write_yaml("p.yaml", USER + "    when: severity >= SEV2\n")
    result = runner.invoke(app, ["show", "slow_model", "--dir", str(path.parent)])
    assert "when: severity >= SEV2" in result.stdout


def test_show_json_is_the_frozen_form() -> None:
    """`show --json` prints exactly what a run would store."""
    result = runner.invoke(app, ["show", "hallucination", "--json"])
    assert json.loads(result.stdout) == load_builtin()["hallucination"].freeze()


def test_show_unknown_name_exits_2_listing_known_names() -> None:
    """Asking for a playbook that does not exist names the ones that do."""
    result = runner.invoke(app, ["show", "nope"])
    assert result.exit_code == 2
    assert result.stderr == (
        "defib: error: no playbook 'nope' (known: data_leak, generic, hallucination, toxicity)\n"
    )


def test_validate_prints_ok_per_file(write_yaml: WriteYaml) -> None:
    """Valid files each get an OK line and the exit code is 0."""
    path = write_yaml("perf.yaml", USER)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"OK {path}\n"


def test_validate_prints_one_error_per_line_and_exits_2(write_yaml: WriteYaml) -> None:
    """Invalid files print each error on its own line; any failure exits 2."""
    good = write_yaml("good.yaml", USER)
    bad = write_yaml(
        "bad.yaml",
        "name: bad\napplies_to: [bias]\nsteps:\n  - name: a\n    action: page_ceo\n"
        "    retries: {count: -1}\n",
    )
    result = runner.invoke(app, ["validate", str(good.parent)])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{bad}:6: step 1 'a': retries.count: must be at least 0 (got -1)",
        f"OK {good}",
    ]


def test_validate_checks_action_names(write_yaml: WriteYaml) -> None:
    """A structurally valid file naming an unknown action still fails validation."""
    path = write_yaml("p.yaml", USER.replace("notify_team", "page_ceo"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "action: unknown action 'page_ceo'" in result.stdout


def test_validate_accepts_the_builtin_directory() -> None:
    """The shipped playbooks pass the same validation users get."""
    builtin = (
        (Path(__file__).parents[2] / "playbooks/test_cli.py").parents[2]
        / "src"
        / "defib"
        / "playbooks"
        / "builtin"
    )
    result = runner.invoke(app, ["validate", str(builtin)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 4


def test_schema_prints_the_published_schema() -> None:
    """`schema` prints the generated JSON Schema."""
    result = runner.invoke(app, ["schema"])
    assert result.stdout == render_schema()


def test_module_runs_as_a_script() -> None:
    """`python -m defib.cli.playbooks` works for trying the commands out."""
    proc = subprocess.run(
        [sys.executable, "-m", "defib.cli.playbooks", "list", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 4
