"""Signed checkpoints of each incident's evidence chain, kept outside the database.

The hash chain shows tampering only to someone who trusts the database: whoever can write
it can delete the last item, or rewrite an item and recompute every later link, and the
chain verifies again (issue 11). So every append also writes a **checkpoint** — the
incident, how many items, the head link hash, when — signed with an Ed25519 key that is
not in the database (a 0600 file, or an environment variable from a secret store), to an
append-only file the database does not control. `verify` then checks the chain against
the checkpoints: a deleted tail or a rewritten item no longer matches what was signed.

The signing is `cryptography`'s Ed25519; the checks below (`check_anchors`) are pure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from defib.config import Settings
from defib.evidence.chain import Broken

VERSION = 1


class AnchorError(Exception):
    """The checkpoint key or log cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    incident_seq: int
    items: int
    head: str | None
    at: str
    key_id: str
    purged: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "incident": self.incident_seq,
            "items": self.items,
            "head": self.head,
            "at": self.at,
            "key": self.key_id,
            "purged": self.purged,
        }


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _decode_key(text: str, where: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise AnchorError(f"{where}: not a base64 Ed25519 private key (32 bytes)") from exc


def load_or_create_key(path: Path | None, env: str | None) -> Ed25519PrivateKey:
    """The signing key: from the environment variable `env` if set, else the file `path`
    (created 0600 with a new key if missing)."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise AnchorError(f"evidence_anchor.key_env: {env} is not set")
        return _decode_key(value, f"environment variable {env}")
    assert path is not None
    try:
        return _decode_key(path.read_text(encoding="ascii"), str(path))
    except FileNotFoundError:
        pass
    key = Ed25519PrivateKey.generate()
    text = base64.b64encode(key.private_bytes_raw()).decode() + "\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _decode_key(path.read_text(encoding="ascii"), str(path))
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return key


class Anchor:
    """Signs checkpoints into an append-only JSON-lines file and reads them back."""

    def __init__(self, key: Ed25519PrivateKey, log_file: Path) -> None:
        self.key = key
        self.public = key.public_key()
        self.key_id = key_id(self.public)
        self.log_file = log_file
        self._lock = threading.Lock()

    def sign(self, checkpoint: Checkpoint) -> dict[str, Any]:
        body = checkpoint.body()
        return {**body, "sig": base64.b64encode(self.key.sign(_canonical(body))).decode()}

    def record(
        self, incident_seq: int, items: int, head: str | None, *, purged: bool = False
    ) -> None:
        """Append one signed checkpoint; one write() of one line, so lines never interleave."""
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        line = _canonical(self.sign(Checkpoint(incident_seq, items, head, at, self.key_id, purged)))
        with self._lock:
            fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)

    def checkpoints(self, incident_seq: int) -> tuple[list[Checkpoint], list[str]]:
        """This incident's checkpoints whose signature holds, oldest first, and problems."""
        good: list[Checkpoint] = []
        problems: list[str] = []
        for lineno, doc in _lines(self.log_file):
            if doc is None:
                problems.append(f"checkpoint log line {lineno} is not a checkpoint")
                continue
            if doc.get("incident") != incident_seq:
                continue
            checkpoint = self.verify(doc)
            if checkpoint is None:
                problems.append(
                    f"checkpoint log line {lineno} has a signature that does not verify "
                    "with this server's key"
                )
            else:
                good.append(checkpoint)
        return good, problems

    def verify(self, doc: Mapping[str, Any]) -> Checkpoint | None:
        sig = doc.get("sig")
        body = {k: v for k, v in doc.items() if k != "sig"}
        if not isinstance(sig, str) or body.get("key") != self.key_id:
            return None
        try:
            self.public.verify(base64.b64decode(sig), _canonical(body))
        except (InvalidSignature, ValueError):
            return None
        head = body.get("head")
        return Checkpoint(
            incident_seq=int(body["incident"]),
            items=int(body["items"]),
            head=str(head) if head is not None else None,
            at=str(body["at"]),
            key_id=str(body["key"]),
            purged=bool(body.get("purged", False)),
        )


def build_anchor(settings: Settings) -> Anchor | None:
    """The anchor the settings describe (None when `evidence_anchor.enabled` is false)."""
    cfg = settings.evidence_anchor
    if not cfg.enabled:
        return None
    key_file = cfg.key_file or settings.data_dir / "evidence-anchor.key"
    log_file = cfg.log_file or settings.data_dir / "evidence-checkpoints.jsonl"
    return Anchor(load_or_create_key(key_file, cfg.key_env), log_file)


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except ValueError:
                yield lineno, None
                continue
            yield lineno, doc if isinstance(doc, dict) else None


@dataclass(frozen=True, slots=True)
class AnchorReport:
    """What the checkpoints say about the chain in the database."""

    checkpoints: int
    anchored_items: int  # items covered by the newest checkpoint
    newest_at: str | None
    broken: list[Broken]

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkpoints": self.checkpoints,
            "anchored_items": self.anchored_items,
            "newest_checkpoint_at": (
                self.newest_at.replace("+00:00", "Z") if self.newest_at else None
            ),
        }


def check_anchors(
    items: Sequence[Mapping[str, Any]], checkpoints: Sequence[Checkpoint], problems: Sequence[str]
) -> AnchorReport:
    """Compare the stored chain with its signed checkpoints (pure).

    - the newest checkpoint anchors more items than the database holds: the tail was
      deleted;
    - the item a checkpoint anchors has another link hash than was signed: that item or
      one before it was rewritten; the first checkpoint that fails, after the last one that
      holds, names the first rewritten item;
    - evidence with no checkpoint at all: the log was removed or truncated.
    Items after the newest checkpoint (a crash between commit and checkpoint) are only
    counted as unanchored.
    """
    broken = [Broken(0, "checkpoint log", p) for p in problems]
    by_n = {int(i["n"]): i for i in items}
    # A purge (retention) starts the chain afresh: only later checkpoints apply.
    purges = [k for k, c in enumerate(checkpoints) if c.purged]
    if purges:
        checkpoints = checkpoints[purges[-1] + 1 :]
        if not checkpoints and not items:
            return AnchorReport(0, 0, None, broken)
    if not checkpoints:
        if items:
            broken.append(
                Broken(
                    1,
                    str(items[0]["name"]),
                    "no signed checkpoint for this evidence (the checkpoint log is missing, "
                    "truncated or from another key)",
                )
            )
        return AnchorReport(0, 0, None, broken)
    newest = checkpoints[-1]
    if newest.items > len(items):
        first_gone = len(items) + 1
        broken.append(
            Broken(
                first_gone,
                "(deleted)",
                f"the checkpoint of {newest.at} anchors {newest.items} items but the database "
                f"holds {len(items)}: item(s) {first_gone}..{newest.items} were deleted",
            )
        )
    last_good = 0
    for c in checkpoints:
        item = by_n.get(c.items)
        if item is None:
            continue  # reported above as deleted
        if item["chain_hash"] == c.head:
            last_good = c.items
            continue
        first = last_good + 1
        named = by_n.get(first)
        broken.append(
            Broken(
                first,
                str(named["name"]) if named is not None else "?",
                f"rewritten: the chain up to item {c.items} differs from the checkpoint signed "
                f"at {c.at} (items up to {last_good} still match)",
            )
        )
        break
    return AnchorReport(len(checkpoints), min(newest.items, len(items)), newest.at, broken)
