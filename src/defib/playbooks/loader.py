"""Reading playbooks from YAML: the built-ins, a user directory, and which one a type gets."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from defib.model import IncidentType
from defib.playbooks.spec import Locator, Playbook, PlaybookError, PlaybookErrors, parse_playbook

__all__ = [
    "PlaybookSet",
    "check_paths",
    "load_builtin",
    "load_dir",
    "load_file",
    "loads",
    "validate_actions",
]

YAML_SUFFIXES = (".yaml", ".yml")


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which PyYAML would otherwise let win silently."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _locator(root: Node | None) -> Locator:
    """Map a data location (keys and indices) to the 1-based line of the nearest YAML node."""

    def locate(loc: tuple[str | int, ...]) -> int | None:
        if root is None:
            return None
        node: Node = root
        for depth, part in enumerate(loc):
            child: Node | None = None
            if isinstance(node, MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode) and key_node.value == part:
                        # Point at the last key itself: for an unknown key there is no better line.
                        child = key_node if depth == len(loc) - 1 else value_node
                        break
            elif (
                isinstance(node, SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node.start_mark.line + 1

    return locate


def loads(text: str, *, file: str | None = None) -> Playbook:
    """Parse one playbook from YAML text; raise PlaybookErrors naming the file and line."""
    name = file or "<string>"
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}" if mark is not None else None
        problem = exc.problem or exc.context or "syntax error"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise PlaybookErrors(
            [
                PlaybookError(
                    f"invalid YAML: {problem}{column}",
                    file=name,
                    line=int(where) if where else None,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise PlaybookErrors([PlaybookError(f"invalid YAML: {exc}", file=name)]) from None
    try:
        return parse_playbook(data, file=name)
    except PlaybookErrors:
        # Only a failing file pays for the second pass that recovers line numbers.
        root = yaml.compose(text, Loader=_Loader)
        return parse_playbook(data, file=name, locate=_locator(root))


def load_file(path: str | Path) -> Playbook:
    """Read and validate one playbook file."""
    name, text = _read(Path(path))
    if isinstance(text, PlaybookError):
        raise PlaybookErrors([text])
    return loads(text, file=name)


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())


# (display name, file text or the error that stopped us reading it)
_Source = tuple[str, str | PlaybookError]


def _read(path: Path) -> _Source:
    try:
        return str(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return str(path), PlaybookError(f"cannot read: {exc}", file=str(path))


def _collect(
    files: Iterable[_Source],
) -> tuple[dict[str, Playbook], dict[str, str], list[PlaybookError]]:
    """Parse files, keeping going after errors so that all of them are reported."""
    playbooks: dict[str, Playbook] = {}
    sources: dict[str, str] = {}
    errors: list[PlaybookError] = []
    for name, text in files:
        if isinstance(text, PlaybookError):
            errors.append(text)
            continue
        try:
            pb = loads(text, file=name)
        except PlaybookErrors as exc:
            errors.extend(exc.errors)
            continue
        if pb.name in playbooks:
            errors.append(
                PlaybookError(
                    f"playbook {pb.name!r} is already defined in {sources[pb.name]}",
                    file=name,
                    key="name",
                )
            )
            continue
        playbooks[pb.name] = pb
        sources[pb.name] = name
    return playbooks, sources, errors


def _read_dir(directory: str | Path) -> list[_Source]:
    d = Path(directory)
    if not d.is_dir():
        raise PlaybookErrors([PlaybookError("not a directory", file=str(d))])
    return [_read(p) for p in _yaml_files(d)]


def load_dir(path: str | Path) -> dict[str, Playbook]:
    """Load every *.yaml/*.yml in a directory (not recursive); raise PlaybookErrors for all."""
    playbooks, _, errors = _collect(_read_dir(path))
    if errors:
        raise PlaybookErrors(errors)
    return playbooks


@functools.cache
def _builtin() -> tuple[dict[str, Playbook], dict[str, str]]:
    root = resources.files("defib.playbooks") / "builtin"
    files = sorted(
        (f"builtin/{entry.name}", entry.read_text(encoding="utf-8"))
        for entry in root.iterdir()
        if entry.name.endswith(YAML_SUFFIXES)
    )
    playbooks, sources, errors = _collect(files)
    if errors:  # a broken built-in is a packaging bug; fail loudly
        raise PlaybookErrors(errors)
    return playbooks, sources


def load_builtin() -> dict[str, Playbook]:
    """The playbooks shipped with defib, by name."""
    return dict(_builtin()[0])


def validate_actions(
    playbook: Playbook, known_actions: Collection[str], *, file: str | None = None
) -> list[PlaybookError]:
    """Errors for steps whose action is not in `known_actions` (the registry's names)."""
    errors: list[PlaybookError] = []
    for i, step in enumerate(playbook.steps):
        if step.action in known_actions:
            continue
        close = difflib.get_close_matches(step.action, sorted(known_actions), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        errors.append(
            PlaybookError(
                f"unknown action {step.action!r}{hint}",
                file=file,
                step=step.name,
                step_number=i + 1,
                key="action",
            )
        )
    return errors


def _conflicts(user: Mapping[str, Playbook], sources: Mapping[str, str]) -> list[PlaybookError]:
    """Two user playbooks claiming one incident type (or both generic) is ambiguous."""
    errors: list[PlaybookError] = []
    claimed: dict[str, str] = {}
    for pb in user.values():
        claims = [t.value for t in pb.incident_types] + (["generic"] if pb.is_generic else [])
        for claim in claims:
            if claim in claimed:
                what = "the generic playbook" if claim == "generic" else f"type {claim!r}"
                errors.append(
                    PlaybookError(
                        f"{what} is already handled by playbook {claimed[claim]!r}",
                        file=sources.get(pb.name),
                        key="applies_to",
                    )
                )
            else:
                claimed[claim] = pb.name
    return errors


class PlaybookSet:
    """Built-in playbooks overlaid with a user directory's; answers "which playbook for this type".

    A user playbook replaces a built-in of the same name, and one naming a type in
    `applies_to` takes that type over from the built-ins. Types nobody names get the generic
    playbook (a user one if there is one).
    """

    def __init__(
        self,
        builtin: Mapping[str, Playbook],
        user: Mapping[str, Playbook] | None = None,
        *,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self._builtin = dict(builtin)
        self._user = dict(user or {})
        self._sources = dict(sources or {})
        errors = _conflicts(self._user, self._sources)
        if errors:
            raise PlaybookErrors(errors)

    @classmethod
    def load(cls, directory: str | Path | None = None) -> PlaybookSet:
        """Built-ins plus the playbooks in `directory` (if given); raise PlaybookErrors."""
        builtin, builtin_sources = _builtin()
        if directory is None:
            return cls(builtin, sources=builtin_sources)
        user, user_sources, errors = _collect(_read_dir(directory))
        if errors:
            raise PlaybookErrors(errors)
        return cls(builtin, user, sources={**builtin_sources, **user_sources})

    def all(self) -> dict[str, Playbook]:
        """Every effective playbook by name (user ones shadow built-ins of the same name)."""
        return {**self._builtin, **self._user}

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self.all().values())

    def __len__(self) -> int:
        return len(self.all())

    def __contains__(self, name: object) -> bool:
        return name in self._user or name in self._builtin

    def get(self, name: str) -> Playbook:
        """The playbook called `name`; KeyError if there is none."""
        if name in self._user:
            return self._user[name]
        return self._builtin[name]

    def origin(self, name: str) -> str:
        """'user' or 'builtin'."""
        return "user" if name in self._user else "builtin"

    def source(self, name: str) -> str | None:
        """The file a playbook came from, for error messages."""
        return self._sources.get(name) if name in self else None

    def for_type(self, incident_type: IncidentType | str) -> Playbook:
        """The playbook to run for an incident type; LookupError if not even a generic exists."""
        t = IncidentType(incident_type)
        for pb in self._user.values():
            if t in pb.incident_types:
                return pb
        for name, pb in self._builtin.items():
            if name not in self._user and t in pb.incident_types:
                return pb
        return self.generic(f"no playbook for {t.value!r} and no generic playbook")

    def generic(self, missing: str = "no generic playbook") -> Playbook:
        """The generic playbook (a user one first); LookupError if there is none."""
        for pb in (*self._user.values(), *self._builtin.values()):
            if pb.is_generic and self.get(pb.name) is pb:
                return pb
        raise LookupError(missing)

    def for_incident(self, incident_type: IncidentType | str, needs_triage: bool) -> Playbook:
        """An incident opened on the classifier's best guess gets the generic playbook (tell
        the team to triage) until a person confirms or retypes it; others their type's."""
        return self.generic() if needs_triage else self.for_type(incident_type)

    def validate_actions(self, known_actions: Collection[str]) -> list[PlaybookError]:
        """Unknown-action errors across every effective playbook."""
        errors: list[PlaybookError] = []
        for pb in self:
            errors.extend(validate_actions(pb, known_actions, file=self.source(pb.name)))
        return errors


def check_paths(
    paths: Sequence[str | Path], known_actions: Collection[str]
) -> list[tuple[str, list[PlaybookError]]]:
    """Validate files and directories; one (file, errors) entry per file, in order.

    Within a directory it also checks what only shows across files: duplicate names and
    two playbooks claiming one incident type.
    """
    results: list[tuple[str, list[PlaybookError]]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = _read_dir(path)
            if not files:
                results.append((str(path), [PlaybookError("no *.yaml files", file=str(path))]))
                continue
        else:
            files = [_read(path)]
        per_file: dict[str, list[PlaybookError]] = {name: [] for name, _ in files}
        playbooks, sources, errors = _collect(files)
        errors += _conflicts(playbooks, sources)
        for pb in playbooks.values():
            errors += validate_actions(pb, known_actions, file=sources[pb.name])
        for e in errors:
            per_file.setdefault(e.file or str(path), []).append(e)
        results.extend(per_file.items())
    return results
