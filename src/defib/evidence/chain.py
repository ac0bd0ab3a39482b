"""The hash chain, pure: each item's link hash covers every stored field of the item (its
content hash, its metadata, who collected it, the previous item's link hash), so changing,
removing or reordering any item shows.

Link formats are versioned per item (`link_version`), so items written under an older rule
still verify by that rule:

- **v1** (before issue 25): prev, incident, n, kind, name, sha256, size, collected_at, meta.
  `collected_by`, `media_type` and the step key were not covered.
- **v2**: every stored field except the row's surrogate `id` and the link itself
  (`V2_FIELDS`), the version included. A chain never goes back from v2 to v1: an item
  rewritten to claim the weaker rule after a v2 item is reported, and an anchored item
  downgraded in place no longer matches its signed checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

LINK_VERSION = 2

# Every column of `evidence_items` but `id` (a storage detail that the chain position `n`
# replaces) and `chain_hash` (the result). A new column must be added here in a new version.
V2_FIELDS = (
    "link_version",
    "incident_seq",
    "n",
    "kind",
    "name",
    "media_type",
    "size",
    "sha256",
    "prev_hash",
    "collected_at",
    "collected_by",
    "meta",
    "idempotency_key",
)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest(doc: Mapping[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def link_hash_v1(
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
    """The v1 rule, kept to verify items written before v2."""
    return _digest(
        {
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
    )


def link_hash(item: Mapping[str, Any]) -> str:
    """The current (v2) link hash of an item's stored fields."""
    doc: dict[str, Any] = {}
    for name in V2_FIELDS:
        value = item[name]
        doc[name] = value.isoformat() if isinstance(value, datetime) else value
    doc["link_version"] = LINK_VERSION
    return _digest(doc)


def item_link(item: Mapping[str, Any]) -> str | None:
    """Recompute a stored item's link hash by its own version's rule (None: unknown rule)."""
    version = item.get("link_version", 1)
    if version == LINK_VERSION:
        return link_hash(item)
    if version == 1:
        return link_hash_v1(
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
    return None


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
    newest_version = 1
    for expected_n, item in enumerate(items, start=1):
        n, name = int(item["n"]), str(item["name"])
        version = int(item.get("link_version", 1))
        if n != expected_n:
            broken.append(Broken(n, name, f"item {expected_n} is missing (found {n})"))
        if item["prev_hash"] != prev:
            broken.append(Broken(n, name, "does not chain to the previous item"))
        if version < newest_version:
            # Only items written before v2 existed may use v1: a later one claims a rule
            # that leaves fields unprotected.
            broken.append(Broken(n, name, f"link format v{version} after a v{newest_version} item"))
        newest_version = max(newest_version, version)
        recomputed = item_link(item)
        if recomputed is None:
            broken.append(Broken(n, name, f"unknown link format v{version}"))
        elif recomputed != item["chain_hash"]:
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
