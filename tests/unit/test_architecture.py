"""The import contracts in pyproject.toml stay true to the code they describe.

import-linter (`lint-imports`, run by `make lint`) checks the contracts; these tests check
the contracts' own lists: the pure contract names exactly the modules whose docstring says
they are pure, and the layers contract places every module of defib.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = (Path(__file__).parents[1] / "test_architecture.py").resolve().parents[1]
SRC = ROOT / "src"

# A docstring says its module is pure when "pure" stands as a tag or a predicate: followed
# by ":", ";", "." or ")" ("Pure:", "(pure)", "pure;", "... Pure.", "is pure:"), or
# opening a sentence with at most two more words before ":" or "." ("Pure logic.",
# "Pure domain types:"). Not "X and Y are pure." (a claim about parts of the module), and
# not "Pure ASGI middleware" or "pure Python" (another sense of the word).
PURE_MARK = re.compile(r"(?<!are )\bpure\s*[:;.)]|(?:^|[.:]\s+)pure(?:\s+\w+){0,2}\s*[:.]", re.I)


def says_pure(docstring: str) -> bool:
    return PURE_MARK.search(" ".join(docstring.split())) is not None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / "defib").rglob("*.py"))}


def docstring_pure() -> set[str]:
    found = set()
    for name, path in modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if says_pure(doc):
            found.add(name)
    return found


def contract(contract_id: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for c in config["tool"]["importlinter"]["contracts"]:
        if c.get("id") == contract_id:
            return dict(c)
    raise AssertionError(f"no import contract with id {contract_id!r} in pyproject.toml")


def layer_modules() -> list[str]:
    names = []
    for layer in contract("layers")["layers"]:
        names += [n.strip() for n in re.split(r"[|:]", layer)]
    return names


def test_the_marker_tells_a_claim_of_purity_from_other_uses_of_the_word() -> None:
    for doc in (
        "Pure: the one clock type.",
        "Roles and permissions (pure; storage lives in store.tokens).",
        "Output filters compiled from a system's state (pure).",
        "The hash chain, pure: each item's link hash covers it.",
        "Silences and inhibition: keeping quiet when asked. Pure logic.",
        "Pure domain types: incident types, severities.",
        "Durations and hand-off times. Pure.",
    ):
        assert says_pure(doc), doc
    for doc in (
        "Pure ASGI middleware in front of every /api route; the body is read once.",
        "`check_anchors` and `parse_checkpoint` are pure.",
        "Parsing and classification are pure and run before the transaction opens.",
        "It is pure Python, with no model file.",
        "Histogram bucket bounds and the pure step from counts to buckets.",
    ):
        assert not says_pure(doc), doc


def test_the_pure_contract_lists_exactly_the_modules_whose_docstring_says_pure() -> None:
    listed = set(contract("pure")["source_modules"])
    said = docstring_pure()
    missing, extra = sorted(said - listed), sorted(listed - said)
    assert not missing and not extra, (
        "pyproject.toml's pure contract (id 'pure') and the docstrings disagree:\n"
        f"  docstring says pure, not listed: {missing}\n"
        f"  listed, docstring does not say pure: {extra}"
    )


def test_the_pure_contract_checks_modules_one_by_one_through_every_import_chain() -> None:
    pure = contract("pure")
    # As packages, a pure package's __init__ would vouch for an impure submodule.
    assert pure["as_packages"] is False
    assert not pure.get("allow_indirect_imports", False)


def test_every_module_has_a_place_in_the_layers() -> None:
    """Each module is in exactly one layer; only the __init__ of a package the layers
    split by module (its pure part in the domain, its service above) is in none."""
    placed = layer_modules()
    assert len(placed) == len(set(placed)), "a module is named in two layers"
    unplaced = []
    for name in modules():
        if name == "defib":
            continue
        homes = [p for p in placed if name == p or name.startswith(p + ".")]
        split = any(p.startswith(name + ".") for p in placed)
        if len(homes) > 1:
            raise AssertionError(f"{name} is in {len(homes)} layers: {homes}")
        if not homes and not split:
            unplaced.append(name)
    assert not unplaced, (
        "modules in no layer of pyproject.toml's layers contract (add each where it"
        f" belongs): {unplaced}"
    )


# Where settings are loaded and the process environment is read: the roots (the Runtime,
# the CLI, the embedded Responder, the demo, the test harness) and the settings loader.
ENV_READERS = ("defib.bootstrap", "defib.cli", "defib.responder", "defib.demo", "defib.testing")
ENV_READERS += ("defib.config",)
# Once allowed to read secrets themselves (issue 26); every one now takes them from the
# root (`Runtime.secrets`, constructor arguments). Keep it empty.
ENV_READERS_TO_MOVE: tuple[str, ...] = ()


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ) or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            == "load_settings"
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_roots_read_settings_or_the_environment() -> None:
    allowed = ENV_READERS + ENV_READERS_TO_MOVE
    found = {}
    for name, path in modules().items():
        if any(name == a or name.startswith(a + ".") for a in allowed):
            continue
        lines = _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            found[name] = lines
    assert not found, (
        "read os.environ / load_settings outside the composition root (take the setting or"
        f" secret from the Runtime: ActionEnvironment.secrets, runtime.secrets): {found}"
    )
