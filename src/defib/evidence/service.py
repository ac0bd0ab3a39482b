"""Adding, listing, showing, verifying and (after the incident) purging evidence."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from defib.config import Settings
from defib.evidence.anchor import Anchor, AnchorReport, check_anchors, step_of
from defib.evidence.blobs import BlobStorage, FileBlobStore
from defib.evidence.chain import (
    LINK_VERSION,
    Broken,
    VerifyReport,
    content_hash,
    link_hash,
    verify_chain,
)
from defib.evidence.redact import redact_text
from defib.evidence.setup import build_anchor, build_blobs
from defib.model import DomainError, NotFound, format_incident_id
from defib.store import evidence as repo
from defib.store import incidents as incident_repo
from defib.store.database import Database

TEXT_TYPES = ("application/json", "text/")


class EvidenceLocked(DomainError):
    """Evidence of an open incident cannot be deleted."""

    code = "conflict"


@dataclass(frozen=True, slots=True)
class ItemDraft:
    kind: str
    name: str
    data: bytes
    media_type: str = "application/json"
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def json(cls, kind: str, name: str, value: Any, **meta: Any) -> ItemDraft:
        data = json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
        return cls(kind, name, data.encode(), "application/json", dict(meta))


@dataclass(frozen=True, slots=True)
class ItemView:
    """One item as shown to people: metadata, and content redacted unless raw."""

    item: dict[str, Any]
    content: str | None = None
    content_base64: str | None = None
    redacted: bool = True
    redactions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **public_item(self.item),
            "redacted": self.redacted,
            "redactions": self.redactions,
            "content": self.content,
            "content_base64": self.content_base64,
        }


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "incident_id": format_incident_id(int(item["incident_seq"])),
        "n": item["n"],
        "kind": item["kind"],
        "name": item["name"],
        "media_type": item["media_type"],
        "size": item["size"],
        "sha256": item["sha256"],
        "prev_hash": item["prev_hash"],
        "chain_hash": item["chain_hash"],
        "collected_at": item["collected_at"].isoformat(),
        "collected_by": item["collected_by"],
        "meta": item["meta"],
    }


def _is_text(media_type: str) -> bool:
    return media_type.startswith(TEXT_TYPES)


MAX_ITEM_NUMBER = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Verification:
    """The chain's own check and, with an anchor, the check against its checkpoints.

    `deleted`: the chain is empty because a retention purge deleted its items (signed), not
    because nothing was collected yet."""

    chain: VerifyReport
    anchor: AnchorReport | None = None
    deleted: bool = False

    @property
    def ok(self) -> bool:
        return self.chain.ok and (self.anchor is None or not self.anchor.broken)

    @property
    def items(self) -> int:
        return self.chain.items

    @property
    def head(self) -> str | None:
        return self.chain.head

    @property
    def broken(self) -> list[Broken]:
        return self.chain.broken + (self.anchor.broken if self.anchor is not None else [])

    @property
    def first_broken(self) -> Broken | None:
        return self.broken[0] if self.broken else None

    @property
    def pending(self) -> list[int]:
        return self.anchor.pending if self.anchor is not None else []

    def to_dict(self) -> dict[str, Any]:
        out = self.chain.to_dict()
        broken = self.broken
        first = self.first_broken
        out["ok"] = self.ok
        out["broken"] = [{"n": b.n, "name": b.name, "reason": b.reason} for b in broken]
        out["first_broken"] = (
            None if first is None else {"n": first.n, "name": first.name, "reason": first.reason}
        )
        out["anchor"] = self.anchor.to_dict() if self.anchor is not None else None
        out["deleted"] = self.deleted
        return out


class EvidenceService:
    def __init__(
        self,
        db: Database,
        data_dir: Path,
        anchor: Anchor | None = None,
        blobs: BlobStorage | None = None,
    ) -> None:
        self.db = db
        self.blobs: BlobStorage = (
            blobs if blobs is not None else FileBlobStore(data_dir / "evidence")
        )
        self.anchor = anchor

    @classmethod
    def for_settings(
        cls, db: Database, settings: Settings, *, secrets: Mapping[str, str] | None = None
    ) -> EvidenceService:
        """The service with the blob store and checkpoint anchor the settings describe.

        `secrets` is the environment the composition root read (`Runtime.secrets`), where
        the `*_env` settings' credentials are looked up; without it none is set."""
        env: Mapping[str, str] = {} if secrets is None else secrets
        return cls(
            db, settings.data_dir, build_anchor(settings, db, env), build_blobs(settings, db, env)
        )

    def add(
        self,
        seq: int,
        drafts: Sequence[ItemDraft],
        actor: str,
        *,
        key_prefix: str | None = None,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Append items to the incident's chain and anchor them; return (items, how many
        were new).

        With `key_prefix`, an item whose key (`<prefix>:<name>`) is already stored is not
        added again: a step re-executed after a crash adds nothing twice, and anchors its
        earlier items if their checkpoint was never written. Raises AnchorError (after the
        rows are committed) when the checkpoint cannot be written: the step must fail.
        """
        hashes = [self.blobs.put(d.data) for d in drafts]  # bytes first, rows second
        at = (now or datetime.now(UTC)).replace(microsecond=0)

        def append(conn: Connection) -> tuple[list[dict[str, Any]], list[int]]:
            # Built afresh on each attempt: a deadlock loser is run again from nothing.
            out: list[dict[str, Any]] = []
            new_ns: list[int] = []
            # Serialises appends to this incident's chain (SQLite: BEGIN IMMEDIATE already).
            incident_repo.get_incident(conn, seq, for_update=True)
            last = repo.last_item(conn, seq)
            n = int(last["n"]) if last else 0
            prev = str(last["chain_hash"]) if last else None
            for draft, digest in zip(drafts, hashes, strict=True):
                key = f"{key_prefix}:{draft.name}" if key_prefix else None
                if key is not None:
                    existing = repo.find_by_key(conn, key)
                    if existing is not None:
                        out.append(existing)
                        continue
                n += 1
                values: dict[str, Any] = {
                    "link_version": LINK_VERSION,
                    "incident_seq": seq,
                    "n": n,
                    "kind": draft.kind,
                    "name": draft.name,
                    "media_type": draft.media_type,
                    "size": len(draft.data),
                    "sha256": digest,
                    "prev_hash": prev,
                    "collected_at": at,
                    "collected_by": actor,
                    "meta": draft.meta,
                    "idempotency_key": key,
                }
                values["chain_hash"] = link_hash(values)
                repo.insert_item(conn, values)
                prev = values["chain_hash"]
                new_ns.append(n)
                out.append(values)
            return out, new_ns

        out, new_ns = self.db.transact(append)
        if self.anchor is not None:
            self._anchor_after_commit(seq, out, new_ns, key_prefix)
        return out, len(new_ns)

    def _anchor_after_commit(
        self,
        seq: int,
        out: Sequence[dict[str, Any]],
        new_ns: Sequence[int],
        key_prefix: str | None,
    ) -> None:
        """One checkpoint per run of consecutive items this call vouches for: the new ones,
        and (re-executed step) the step's earlier items no checkpoint vouches for yet.

        After the commit: a checkpoint never names items that were rolled back. Items are
        only vouched for by the writer that appended them, so a forgery someone appended in
        between stays unvouched (and verify reports it)."""
        assert self.anchor is not None
        vouch = {int(i["n"]): str(i["chain_hash"]) for i in out if int(i["n"]) in new_ns}
        step = step_of(f"{key_prefix}:-") if key_prefix else None
        if step is not None and len(new_ns) < len(out):
            with self.db.read() as conn:
                earlier = repo.items_of_step(conn, seq, *step)
            checkpoints, _, _ = self.anchor.checkpoints(seq)
            covered = {n for c in checkpoints for n in range(c.first, c.items + 1)}
            for item in earlier:
                if int(item["n"]) not in covered:
                    vouch[int(item["n"])] = str(item["chain_hash"])
        for first, last in _runs(sorted(vouch)):
            self.anchor.record(seq, last, vouch[last], first=first)

    def list(self, seq: int) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            incident_repo.get_incident(conn, seq)
            return repo.list_items(conn, seq)

    def show(self, seq: int, n: int, *, raw: bool = False) -> ItemView:
        with self.db.read() as conn:
            incident_repo.get_incident(conn, seq)
            # Item numbers are 32-bit in the table: a larger one is no item, not a SQL error.
            item = repo.get_item(conn, seq, n) if 0 <= n <= MAX_ITEM_NUMBER else None
        if item is None:
            raise NotFound(f"{format_incident_id(seq)} has no evidence item {n}")
        data = self.blobs.read(str(item["sha256"]))
        if data is None:
            return ItemView(item, content=None, redacted=not raw)
        if content_hash(data) != item["sha256"]:
            # Never show tampered bytes as if they were the evidence.
            raise NotFound(f"evidence item {n}: content fails its SHA-256 check (run verify)")
        text: str | None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if raw:
            if text is not None and _is_text(str(item["media_type"])):
                return ItemView(item, content=text, redacted=False)
            return ItemView(item, content_base64=base64.b64encode(data).decode(), redacted=False)
        if text is None:
            # Binary content cannot be redacted reliably: withheld unless raw.
            return ItemView(item, content=None, redacted=True)
        masked, counts = redact_text(text)
        return ItemView(item, content=masked, redacted=True, redactions=counts)

    def verify(self, seq: int) -> Verification:
        with self.db.read() as conn:
            incident_repo.get_incident(conn, seq)
            items = repo.list_items(conn, seq)
            # Steps that may still anchor their items: read with the items, so a step that
            # ends between the two reads cannot excuse an item it never anchored.
            steps = {s for s in (step_of(i["idempotency_key"]) for i in items) if s is not None}
            running = repo.steps_in_flight(conn, seq, steps)
        chain = verify_chain(items, self.blobs.read)
        if self.anchor is None:
            return Verification(chain)
        checkpoints, problems, warnings = self.anchor.checkpoints(seq)
        in_flight = {int(i["n"]) for i in items if step_of(i["idempotency_key"]) in running}
        report = check_anchors(
            items,
            checkpoints,
            problems,
            in_flight=in_flight,
            warnings=warnings,
            trust=self.anchor.trust,
        )
        deleted = not items and any(c.purged for c in checkpoints)
        return Verification(chain, report, deleted=deleted)

    def purge(self, seq: int) -> int:
        """Delete an incident's evidence (retention); refused while the incident is open."""

        def delete(conn: Connection) -> tuple[int, list[str]]:
            incident = incident_repo.get_incident(conn, seq, for_update=True)
            if incident.status.is_open:
                raise EvidenceLocked(
                    f"{incident.id} is {incident.status.value}: its evidence is kept while it"
                    " is open"
                )
            return repo.count_items(conn, seq), list(repo.delete_items(conn, seq))

        count, orphans = self.db.transact(delete)
        if self.anchor is not None and count:
            self.anchor.record(seq, 0, None, purged=True)
        for digest in orphans:
            self.blobs.remove(digest)
        return count


def _runs(ns: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted numbers as (first, last) pairs."""
    out: list[tuple[int, int]] = []
    for n in ns:
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out
