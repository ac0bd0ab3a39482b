"""One place writes run state: `playbooks/engine/run_state.py`."""

from __future__ import annotations

import ast
from pathlib import Path

import defib
from defib.store import runs

# The runs repository's functions that change runs or steps.
WRITERS = {"insert_run", "update_run", "move_run", "update_step", "update_steps"}
TABLES = {"playbook_runs", "playbook_run_steps"}
OWNER = Path(defib.__file__).parent / "playbooks" / "engine" / "run_state.py"


def _writes_run_state(tree: ast.AST) -> list[int]:
    """Lines that call a runs-repository writer or build an UPDATE/INSERT of the run tables."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            name = target.id if isinstance(target, ast.Name) else None
            if node.func.attr in WRITERS and name in {"repo", "runs", "runs_repo"}:
                lines.append(node.lineno)
            if node.func.attr in {"update", "insert"} and name in TABLES:
                lines.append(node.lineno)
    return lines


def test_the_writers_named_here_exist_in_the_runs_repository() -> None:
    assert all(callable(getattr(runs, name)) for name in WRITERS)


def test_no_module_but_run_state_writes_runs_or_steps() -> None:
    src = Path(defib.__file__).parent
    offenders = {
        str(path.relative_to(src)): found
        for path in sorted(src.rglob("*.py"))
        if path != OWNER and path.parent.name != "store"
        for found in [_writes_run_state(ast.parse(path.read_text(encoding="utf-8")))]
        if found
    }
    assert offenders == {}
    assert _writes_run_state(ast.parse(OWNER.read_text(encoding="utf-8")))  # the check sees it
