"""Typed timeline kinds and ingest actions keep today's strings; a reopen is recognised."""

from __future__ import annotations

import ast
import importlib
from datetime import UTC, datetime
from pathlib import Path

import defib
from defib.events import IngestAction, TimelineKind, is_reopen
from defib.incidents.review import evidence_text
from defib.model import Incident, IncidentType, Severity, Status, TimelineEvent


def test_enum_values_are_the_stored_strings() -> None:
    assert TimelineKind.TRANSITION == "transition"
    assert TimelineKind.STEP_VERIFIED == "run_step_verified"
    assert IngestAction.DUPLICATE == "duplicate"
    assert {a.value for a in IngestAction} >= {"created", "merged", "silenced", "folded"}


def test_reopen_is_a_transition_with_the_reopen_command() -> None:
    assert is_reopen("transition", {"command": "reopen", "from": "resolved"})
    assert not is_reopen("transition", {"command": "resolve"})
    assert not is_reopen("reopened", {"command": "reopen"})


def test_the_alert_that_reopened_an_incident_counts_as_taxonomy_evidence() -> None:
    """Review reads the reopening alert (it looked for a `reopened` kind no one writes)."""
    at = datetime(2026, 12, 7, tzinfo=UTC)
    incident = Incident(
        seq=1,
        type=IncidentType.TOXICITY,
        severity=Severity.SEV2,
        title="t",
        description="",
        status=Status.DETECTED,
        detected_at=at,
    )
    reopen = TimelineEvent(
        at, "am", "transition", {"command": "reopen", "alert": {"title": "JailbreakSpike"}}
    )
    other = TimelineEvent(at, "am", "transition", {"command": "acknowledge", "note": "Hidden"})
    texts = evidence_text(incident, [reopen, other])
    assert any("JailbreakSpike" in t for t in texts)
    assert not any("Hidden" in t for t in texts)


# -- no kind or ingest action spelled as a string literal in src ----------------------------
#
# Every writer and reader of a timeline kind or an ingest action names a member, so a typo
# or a renamed kind cannot slip past mypy as a plain string. Two checks over src/defib:
# * a value with an underscore (`run_step_verified`, `alert_merged`) is distinctive: no
#   string literal anywhere may equal it, except the few listed in ALLOWED with why;
# * a plain word (`note`, `created`, `resolved`) is also a JSON key, a CLI column or an alert
#   status, so it is refused only where it is used as a kind or an action: compared with a
#   `kind`/`action`, passed as the kind of TimelineEvent or of a timeline writer, assigned to
#   a `kind`/`action` name, or in a `.c.kind`/`.c.action` query filter.
# The converse: every kind handed to a timeline writer resolves to a TimelineKind member (or
# is a `kind` parameter passed through, or a stored event's kind read back).

SRC = Path(defib.__file__).resolve().parent  # wherever this test file lives
KINDS = {k.value for k in TimelineKind}
ACTIONS = {a.value for a in IngestAction}
VALUES = KINDS | ACTIONS

# (path under src/defib, literal): why the literal is not a kind there. Empty today: add an
# entry only for a use that is not a kind (e.g. an unrelated field that shares a name).
ALLOWED: dict[tuple[str, str], str] = {}

# The timeline writers, as (receiver, callee) -> index of the `kind` argument; receiver None:
# any receiver or a bare call. (A `kind=` keyword counts too.)
WRITERS: dict[tuple[str | None, str], int] = {
    (None, "TimelineEvent"): 2,  # (at, actor, kind, data)
    ("ctx", "record"): 0,  # ActionContext.record(kind, data, suffix)
    ("ctx", "timeline"): 0,  # ActionContext.timeline(kind, data, key)
    ("ledger", "timeline"): 2,  # Ledger.timeline(seq, actor, kind, data, key)
    ("run_state", "event"): 4,  # run_state.event(conn, seq, at, actor, kind, data, key)
    ("run_state", "transition"): 3,  # run_state.transition(conn, ref, now, kind, ...)
    (None, "_touch"): 2,  # SilenceService._touch(conn, silence, kind, actor, now)
    (None, "plan_once"): 2,  # ControlService.plan_once(seq, key, kind, data, actor)
    (None, "record_event"): 1,  # IncidentService.record_event(incident_id, kind, ...)
}
# Inside run_state.py its own `event`/`transition` are called bare.
BARE_IN = {"playbooks/engine/run_state.py": {"event", "transition"}}
KIND_NAMES = ("kind", "action")


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel != "events.py":
            out.append((rel, ast.parse(path.read_text(encoding="utf-8"))))
    return out


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literals(node: ast.AST | None) -> list[str]:
    """The string constants `node` is, or holds as a tuple/list/set/conditional."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for e in node.elts for s in _literals(e)]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def _is_kindish(node: ast.AST) -> bool:
    name = _name(node)
    return name is not None and (name in KIND_NAMES or name.endswith("_KIND"))


def _writer_kind(call: ast.Call, rel: str) -> ast.expr | None:
    """The `kind` argument of a call to a timeline writer, if this is one."""
    func = call.func
    callee = _name(func)
    receiver = _name(func.value) if isinstance(func, ast.Attribute) else None
    index = WRITERS.get((receiver, callee or ""), WRITERS.get((None, callee or "")))
    if index is None and isinstance(func, ast.Name) and func.id in BARE_IN.get(rel, set()):
        index = WRITERS[("run_state", func.id)]
    if index is None:
        return None
    for kw in call.keywords:
        if kw.arg == "kind":
            return kw.value
    return call.args[index] if len(call.args) > index else None


def _kind_uses(rel: str, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, literal) of each string literal used as a kind or an ingest action."""
    found: list[tuple[int, str]] = []

    def add(node: ast.AST | None) -> None:
        for s in _literals(node):
            found.append((getattr(node, "lineno", 0), s))

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_kindish(s) for s in sides):
                for s in sides:
                    add(s)
        elif isinstance(node, ast.Call):
            add(_writer_kind(node, rel))
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "in_" and _is_kindish(func.value):
                for a in node.args:
                    add(a)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                pairs: list[tuple[ast.AST, ast.AST]] = [(target, node.value)]
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                for t, v in pairs:
                    if _is_kindish(t):
                        add(v)
    # (An f-string kind is caught by the converse test below: it resolves to no member.)
    return [(line, s) for line, s in found if s in VALUES]


def test_no_string_literal_spells_a_timeline_kind_or_an_ingest_action() -> None:
    offences: list[str] = []
    allowed_seen: set[tuple[str, str]] = set()
    for rel, tree in _modules():
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "_" in node.value
                and node.value in VALUES
                and id(node) not in docs
            ):
                if (rel, node.value) in ALLOWED:
                    allowed_seen.add((rel, node.value))
                else:
                    offences.append(f"{rel}:{node.lineno}: {node.value!r}")
        for line, literal in _kind_uses(rel, tree):
            if (rel, literal) in ALLOWED:
                allowed_seen.add((rel, literal))
            else:
                offences.append(f"{rel}:{line}: {literal!r} used as a kind/action")
    assert not offences, "name the TimelineKind/IngestAction member instead:\n" + "\n".join(
        sorted(set(offences))
    )
    assert allowed_seen == set(ALLOWED), "an ALLOWED entry no longer applies: remove it"


def _module_name(rel: str) -> str:
    return "defib." + rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _enclosing(tree: ast.Module) -> dict[int, list[Function]]:
    """Each node's enclosing functions, innermost first, by node id."""
    chains: dict[int, list[Function]] = {}

    def visit(node: ast.AST, chain: list[Function]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = [child, *chain] if isinstance(child, Function) else chain
            chains[id(child)] = inner
            visit(child, inner)

    visit(tree, [])
    return chains


def _local_values(fn: ast.AST, name: str) -> list[ast.expr]:
    values: list[ast.expr] = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    values.append(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for t, v in zip(target.elts, node.value.elts, strict=False):
                        if isinstance(t, ast.Name) and t.id == name:
                            values.append(v)
    return values


def _resolves_to_members(expr: ast.expr, module: object, chain: list[Function]) -> bool:
    """Whether `expr` is a TimelineKind member, a name bound only to members, a parameter
    of an enclosing function (a writer passing its caller's kind on), or a stored event's
    own kind read back (`event.kind`, `row["kind"]`)."""
    if isinstance(expr, ast.IfExp):
        return _resolves_to_members(expr.body, module, chain) and _resolves_to_members(
            expr.orelse, module, chain
        )
    if isinstance(expr, ast.Attribute) and expr.attr == "kind":
        return True
    if isinstance(expr, ast.Subscript) and _literals(expr.slice) == ["kind"]:
        return True
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        value = getattr(module, expr.value.id, None)
        return value is TimelineKind and expr.attr in TimelineKind.__members__
    if isinstance(expr, ast.Name):
        for fn in chain:
            params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)]
            if expr.id in params:
                return True
            local = _local_values(fn, expr.id)
            if local:
                return all(_resolves_to_members(v, module, chain) for v in local)
        return isinstance(getattr(module, expr.id, None), TimelineKind)
    return False


def test_every_kind_written_to_the_timeline_is_a_member() -> None:
    unresolved: list[str] = []
    writes = 0
    for rel, tree in _modules():
        chains = _enclosing(tree)
        for node in ast.walk(tree):
            kind = _writer_kind(node, rel) if isinstance(node, ast.Call) else None
            if kind is None:
                continue
            writes += 1
            module = importlib.import_module(_module_name(rel))
            if not _resolves_to_members(kind, module, chains.get(id(node), [])):
                unresolved.append(f"{rel}:{node.lineno}: {ast.unparse(kind)}")
    assert writes > 50  # the scan sees the writers (it would pass vacuously otherwise)
    assert not unresolved, "kinds written that are not TimelineKind members:\n" + "\n".join(
        unresolved
    )
