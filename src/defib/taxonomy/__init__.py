"""OWASP LLM Top 10 (2025), MITRE ATLAS and NIST AI 600-1: the catalogue and the mapping.

Pure: the catalogue is data shipped in the package (`catalogue.yaml`); `map_incident`
derives an incident's mapping from its type and the words of its evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

FRAMEWORKS = ("owasp_llm", "mitre_atlas", "nist_ai_600_1")


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    version: str
    url: str


@dataclass(frozen=True, slots=True)
class Refinement:
    id: str
    any: tuple[str, ...]
    add: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Catalogue:
    sources: Mapping[str, Source]
    entries: Mapping[str, Mapping[str, str]]
    defaults: Mapping[str, Mapping[str, tuple[str, ...]]]
    refinements: tuple[Refinement, ...]

    def name(self, framework: str, entry: str) -> str:
        return self.entries[framework][entry]

    def unknown(self, framework: str, ids: Iterable[str]) -> list[str]:
        known = self.entries.get(framework, {})
        return [i for i in ids if i not in known]


@dataclass(frozen=True, slots=True)
class TaxonomyMapping:
    """One incident's mapping: ids per framework, and why (defaults, refinements, a person)."""

    ids: Mapping[str, tuple[str, ...]]
    basis: tuple[str, ...] = ()
    edited_by: str | None = None
    edited_at: str | None = None

    def to_dict(self, catalogue: Catalogue) -> dict[str, Any]:
        out: dict[str, Any] = {
            fw: [{"id": i, "name": catalogue.name(fw, i)} for i in self.ids.get(fw, ())]
            for fw in FRAMEWORKS
        }
        out["basis"] = list(self.basis)
        out["edited_by"] = self.edited_by
        out["edited_at"] = self.edited_at
        out["sources"] = {
            k: {"name": s.name, "version": s.version, "url": s.url}
            for k, s in catalogue.sources.items()
        }
        return out


def _ids(raw: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    raw = raw or {}
    return {fw: tuple(str(i) for i in raw.get(fw, []) or []) for fw in FRAMEWORKS}


@cache
def load_catalogue() -> Catalogue:
    text = resources.files("defib.taxonomy").joinpath("catalogue.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    catalogue = Catalogue(
        sources={k: Source(**v) for k, v in data["sources"].items()},
        entries={fw: {str(k): str(v) for k, v in data["entries"][fw].items()} for fw in FRAMEWORKS},
        defaults={t: _ids(v) for t, v in data["defaults"].items()},
        refinements=tuple(
            Refinement(id=r["id"], any=tuple(s.lower() for s in r["any"]), add=_ids(r.get("add")))
            for r in data["refinements"]
        ),
    )
    for where, ids in [
        *((f"defaults.{t}", v) for t, v in catalogue.defaults.items()),
        *((f"refinements.{r.id}", r.add) for r in catalogue.refinements),
    ]:
        for fw, values in ids.items():
            bad = catalogue.unknown(fw, values)
            if bad:
                raise ValueError(f"taxonomy catalogue: {where}.{fw}: unknown {bad}")
    return catalogue


def _merge(into: dict[str, list[str]], add: Mapping[str, Sequence[str]]) -> None:
    for fw, ids in add.items():
        for i in ids:
            if i not in into[fw]:
                into[fw].append(i)


def map_incident(
    incident_type: str, evidence: Iterable[str], catalogue: Catalogue | None = None
) -> TaxonomyMapping:
    """The type's defaults plus every refinement whose words occur in the evidence."""
    cat = catalogue or load_catalogue()
    ids: dict[str, list[str]] = {fw: [] for fw in FRAMEWORKS}
    _merge(ids, cat.defaults.get(incident_type, {}))
    basis = [f"default:{incident_type}"]
    text = " ".join(evidence).lower()
    for r in cat.refinements:
        hit = next((w for w in r.any if w in text), None)
        if hit is not None:
            _merge(ids, r.add)
            basis.append(f"evidence:{r.id} ({hit!r})")
    return TaxonomyMapping(ids={fw: tuple(v) for fw, v in ids.items()}, basis=tuple(basis))


def edited(
    ids: Mapping[str, Sequence[str]], by: str, at: str, catalogue: Catalogue | None = None
) -> TaxonomyMapping:
    """A person's mapping; raises ValueError naming unknown ids."""
    cat = catalogue or load_catalogue()
    for fw in ids:
        if fw not in FRAMEWORKS:
            raise ValueError(f"{fw}: not a framework (use {', '.join(FRAMEWORKS)})")
    clean = {fw: tuple(dict.fromkeys(ids.get(fw, ()))) for fw in FRAMEWORKS}
    for fw, values in clean.items():
        bad = cat.unknown(fw, values)
        if bad:
            known = ", ".join(cat.entries[fw])
            raise ValueError(f"{fw}: unknown {', '.join(bad)} (known: {known})")
    return TaxonomyMapping(ids=clean, basis=("edited",), edited_by=by, edited_at=at)


def from_stored(data: Mapping[str, Any]) -> TaxonomyMapping:
    return TaxonomyMapping(
        ids=_ids(data.get("ids")),
        basis=tuple(data.get("basis", ("edited",))),
        edited_by=data.get("edited_by"),
        edited_at=data.get("edited_at"),
    )


def to_stored(m: TaxonomyMapping) -> dict[str, Any]:
    return {
        "ids": {fw: list(v) for fw, v in m.ids.items()},
        "basis": list(m.basis),
        "edited_by": m.edited_by,
        "edited_at": m.edited_at,
    }


__all__ = [
    "FRAMEWORKS",
    "Catalogue",
    "TaxonomyMapping",
    "edited",
    "from_stored",
    "load_catalogue",
    "map_incident",
    "to_stored",
]
