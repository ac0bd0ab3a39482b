"""The hash chain, pure: each item's link hash covers its content hash, its metadata and
the previous item's link hash, so changing, removing or reordering any item shows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def link_hash(
    *,
    prev: str | None,
    incident_seq: int,
    n: int,
    kind: str,
    name: str,
    sha256: str,
    size: int,
    collected_at: datetime,
    meta: Mapping[str, Any],
) -> str:
    doc = {
        "prev": prev or "",
        "incident_seq": incident_seq,
        "n": n,
        "kind": kind,
        "name": name,
        "sha256": sha256,
        "size": size,
        "collected_at": collected_at.isoformat(),
        "meta": meta,
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def item_link(item: Mapping[str, Any]) -> str:
    """Recompute a stored item's link hash from its row."""
    return link_hash(
        prev=item["prev_hash"],
        incident_seq=item["incident_seq"],
        n=item["n"],
        kind=item["kind"],
        name=item["name"],
        sha256=item["sha256"],
        size=item["size"],
        collected_at=item["collected_at"],
        meta=item["meta"],
    )


@dataclass(frozen=True, slots=True)
class Broken:
    n: int
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    items: int
    head: str | None
    broken: list[Broken] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken

    @property
    def first_broken(self) -> Broken | None:
        return self.broken[0] if self.broken else None

    def to_dict(self) -> dict[str, Any]:
        first = self.first_broken
        return {
            "ok": self.ok,
            "items": self.items,
            "head": self.head,
            "first_broken": None
            if first is None
            else {"n": first.n, "name": first.name, "reason": first.reason},
            "broken": [{"n": b.n, "name": b.name, "reason": b.reason} for b in self.broken],
        }


def verify_chain(
    items: Sequence[Mapping[str, Any]], read: Callable[[str], bytes | None]
) -> VerifyReport:
    """Recompute every content hash (from `read(sha256)`) and every link, in order."""
    broken: list[Broken] = []
    prev: str | None = None
    for expected_n, item in enumerate(items, start=1):
        n, name = int(item["n"]), str(item["name"])
        if n != expected_n:
            broken.append(Broken(n, name, f"item {expected_n} is missing (found {n})"))
        if item["prev_hash"] != prev:
            broken.append(Broken(n, name, "does not chain to the previous item"))
        if item_link(item) != item["chain_hash"]:
            broken.append(Broken(n, name, "metadata changed (link hash mismatch)"))
        data = read(str(item["sha256"]))
        if data is None:
            broken.append(Broken(n, name, "content is missing"))
        elif content_hash(data) != item["sha256"]:
            broken.append(Broken(n, name, "content changed (SHA-256 mismatch)"))
        elif len(data) != item["size"]:
            broken.append(Broken(n, name, "content size changed"))
        prev = str(item["chain_hash"])
    return VerifyReport(items=len(items), head=prev, broken=broken)
