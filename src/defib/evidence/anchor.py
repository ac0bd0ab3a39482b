"""Signed checkpoints of each incident's evidence chain, written before a step succeeds.

The hash chain shows tampering only to someone who trusts the database: whoever can write
it can delete the last item, or rewrite an item and recompute every later link, and the
chain verifies again (issue 11). So every append also writes a **checkpoint**: the
incident, how many items, the head link hash, the first item this writer vouches for, when,
signed with an Ed25519 key the database never holds (`signer.py`). `verify` then checks the
chain against the checkpoints: a deleted tail, a rewritten item, or an item that no
checkpoint vouches for (a forgery appended after the newest checkpoint) is reported.

Where checkpoints are kept (the database for every replica, or a log file) and copied to
(mirrors) is `checkpoints.py`; which public keys count is decided here: this process's own
key, the keys pinned in `evidence_anchor.trusted_keys`, and, when none are pinned, every key
registered in the database (so a replica verifies what a worker signed, and whoever can
write the database could register a key of their own: pin the keys to close that).

A write that fails raises AnchorError (the collecting step fails) and is remembered twice
until this host's next write succeeds: in the process (`last_error`) and as a row of
`evidence_anchor_failures` keyed by host, which every replica's /readyz reads, since a
standalone `defib worker` is asked by no load balancer.

`check_anchors` and `parse_checkpoint` are pure.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from defib.evidence.chain import Broken
from defib.evidence.checkpoints import CheckpointLog, FileCheckpointLog, Mirror
from defib.evidence.signer import (
    ALGORITHM,
    Signer,
    SignerError,
    decode_public,
    encode_public,
    key_id,
)
from defib.store import evidence as repo
from defib.store.database import Database

log = logging.getLogger(__name__)

# v1 checkpoints had no `first` (they vouched for every item up to `items`).
VERSION = 2

Trust = Literal["pinned", "database", "own key"]


class AnchorError(Exception):
    """A checkpoint could not be signed or written; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    incident_seq: int
    items: int
    head: str | None
    at: str
    key_id: str
    purged: bool = False
    first: int = 1  # the first item this checkpoint vouches for (its writer appended it)

    def body(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "incident": self.incident_seq,
            "items": self.items,
            "head": self.head,
            "first": self.first,
            "at": self.at,
            "key": self.key_id,
            "purged": self.purged,
        }


def canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def parse_checkpoint(
    doc: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]
) -> Checkpoint | None:
    """The checkpoint if its signature holds under a trusted key (None otherwise; pure)."""
    sig = doc.get("sig")
    body = {k: v for k, v in doc.items() if k != "sig"}
    public = trusted.get(str(body.get("key")))
    if not isinstance(sig, str) or public is None:
        return None
    try:
        public.verify(base64.b64decode(sig), canonical(body))
        head = body.get("head")
        return Checkpoint(
            incident_seq=int(body["incident"]),
            items=int(body["items"]),
            head=str(head) if head is not None else None,
            at=str(body["at"]),
            key_id=str(body["key"]),
            purged=bool(body.get("purged", False)),
            first=int(body.get("first", 1)),
        )
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return None


class Anchor:
    """Signs checkpoints into the log (after every mirror took them) and reads them back."""

    def __init__(
        self,
        signer: Signer | Callable[[], Signer],
        log: CheckpointLog,
        *,
        mirrors: Sequence[Mirror] = (),
        db: Database | None = None,
        pinned: Sequence[str] = (),
        who: str | None = None,
    ) -> None:
        self._signer_source = signer
        self._signer: Signer | None = None
        self.log = log
        self.mirrors = list(mirrors)
        self.db = db
        self.pinned = [decode_public(p) for p in pinned]
        self.who = who or socket.gethostname()[:200]
        self._lock = threading.Lock()
        self._registered = False
        # The last write's failure, until a write succeeds: readiness reports it.
        self.last_error: str | None = None
        # Whether this writer's failure row may be in the database (None: not known; a
        # process before this one on the same host may have left one).
        self._failure_shared: bool | None = None

    @property
    def signer(self) -> Signer:
        with self._lock:
            if self._signer is None:
                source = self._signer_source
                self._signer = source() if callable(source) else source
            return self._signer

    @property
    def key_id(self) -> str:
        return key_id(self.signer.public_key)

    @property
    def trust(self) -> Trust:
        if self.pinned:
            return "pinned"
        return "database" if self.db is not None else "own key"

    def sign(self, checkpoint: Checkpoint) -> dict[str, Any]:
        body = checkpoint.body()
        return {**body, "sig": base64.b64encode(self.signer.sign(canonical(body))).decode()}

    def _register(self, signer: Signer) -> None:
        if self._registered or self.db is None:
            return
        public, at = signer.public_key, datetime.now(UTC)
        self.db.transact(
            lambda conn: repo.register_key(
                conn, key_id(public), ALGORITHM, encode_public(public), self.who, at
            )
        )
        self._registered = True

    def record(
        self,
        incident_seq: int,
        items: int,
        head: str | None,
        *,
        first: int = 1,
        purged: bool = False,
    ) -> None:
        """Sign and write one checkpoint: to every mirror, then to the log. Raises
        AnchorError if any of it fails (the caller's step must not succeed then)."""
        try:
            signer = self.signer
            self._register(signer)
            at = datetime.now(UTC).isoformat(timespec="microseconds")
            checkpoint = Checkpoint(
                incident_seq, items, head, at, key_id(signer.public_key), purged, first
            )
            line = canonical(self.sign(checkpoint)).decode()
            # Mirrors first: a checkpoint in the log is never missing from a mirror, and a
            # retry after a mirror failed signs and sends again (receivers dedupe by id).
            for mirror in self.mirrors:
                mirror.append(incident_seq, line)
            self.log.append(incident_seq, line)
        except Exception as exc:
            # No paths or URLs: readiness shows this to unauthenticated callers.
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.last_error = f"{type(exc).__name__}: {detail}"[:300]
            self._share_failure(self.last_error)
            raise AnchorError(
                f"the checkpoint of incident {incident_seq} could not be written: {self.last_error}"
            ) from exc
        self.last_error = None
        if self._failure_shared is not False:
            self._clear_failure()

    def _share_failure(self, error: str) -> None:
        """Tell every replica (their /readyz reads the row): a standalone worker's failure
        was seen only on its own process, which no load balancer asks (issue 25)."""
        if self.db is None:
            return
        at = datetime.now(UTC)
        try:
            self.db.transact(lambda conn: repo.note_anchor_failure(conn, self.who, error, at))
        except Exception:
            # The database may be what failed; its own outage makes every replica unready.
            log.warning("could not record the anchor failure for other replicas", exc_info=True)
            self._failure_shared = None
            return
        self._failure_shared = True

    def _clear_failure(self) -> None:
        if self.db is None:
            self._failure_shared = False
            return
        try:
            self.db.transact(lambda conn: repo.clear_anchor_failure(conn, self.who))
        except Exception:
            # The checkpoint is written; the row goes with a later write.
            log.warning("could not clear this host's anchor failure row", exc_info=True)
            return
        self._failure_shared = False

    def shared_failures(self) -> list[dict[str, Any]]:
        """The writers (hosts) whose last checkpoint write failed, from the database."""
        if self.db is None:
            return []
        with self.db.read() as conn:
            return repo.anchor_failures(conn)

    def trusted_keys(self) -> tuple[dict[str, Ed25519PublicKey], list[str]]:
        """The public keys whose checkpoints count, and warnings."""
        warnings: list[str] = []
        raw: list[bytes] = list(self.pinned)
        try:
            raw.append(self.signer.public_key)
        except (SignerError, OSError) as exc:
            warnings.append(f"this process has no signing key ({exc})")
        if not self.pinned and self.db is not None:
            with self.db.read() as conn:
                for row in repo.list_keys(conn):
                    try:
                        raw.append(decode_public(str(row["public_key"])))
                    except ValueError:
                        warnings.append(f"verifying key {row['key_id']} is not a public key")
        return {key_id(r): Ed25519PublicKey.from_public_bytes(r) for r in raw}, warnings

    def checkpoints(self, incident_seq: int) -> tuple[list[Checkpoint], list[str], list[str]]:
        """This incident's checkpoints whose signature holds (oldest first), problems (a
        line of this incident that does not verify) and warnings (skipped torn lines)."""
        trusted, warnings = self.trusted_keys()
        docs, read_warnings = self.log.read(incident_seq)
        warnings += read_warnings
        for mirror in self.mirrors:
            if isinstance(mirror, FileCheckpointLog):  # a copy this host can read back
                more, mirror_warnings = mirror.read(incident_seq)
                docs += more
                warnings += mirror_warnings
        good: dict[str, Checkpoint] = {}
        problems: list[str] = []
        seen: set[str] = set()
        for doc in docs:
            sig = str(doc.get("sig"))
            if sig in seen:
                continue  # the same checkpoint in the log and a mirror
            seen.add(sig)
            checkpoint = parse_checkpoint(doc, trusted)
            if checkpoint is None:
                problems.append(
                    f"a checkpoint dated {str(doc.get('at'))[:40]} (key {str(doc.get('key'))[:20]})"
                    " has a signature that does not verify with a trusted key"
                )
            else:
                good[sig] = checkpoint
        return sorted(good.values(), key=lambda c: c.at), problems, warnings

    def problem(self) -> str | None:
        """Why checkpoints cannot be written now (None: they can), for readiness."""
        if self.last_error is not None:
            return f"evidence checkpoints cannot be written: {self.last_error}"
        for failure in self.shared_failures():
            since = failure["failed_at"].isoformat(timespec="seconds").replace("+00:00", "Z")
            return (
                f"evidence checkpoints cannot be written on {failure['writer']} (since "
                f"{since}; cleared by its next successful write): {failure['error']}"
            )
        found = self.log.probe()
        return f"evidence checkpoints cannot be written: {found}" if found else None


@dataclass(frozen=True, slots=True)
class AnchorReport:
    """What the checkpoints say about the chain in the database."""

    checkpoints: int
    anchored_items: int  # items a checkpoint vouches for
    newest_at: str | None
    broken: list[Broken]
    pending: list[int]  # items not yet anchored whose collecting step is still in flight
    warnings: list[str]
    trust: Trust = "own key"

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkpoints": self.checkpoints,
            "anchored_items": self.anchored_items,
            "pending_items": self.pending,
            "newest_checkpoint_at": (
                self.newest_at.replace("+00:00", "Z") if self.newest_at else None
            ),
            "trust": self.trust,
            "warnings": self.warnings,
        }


def step_of(idempotency_key: str | None) -> tuple[str, int] | None:
    """The (run id, step index) an item's key `<run id>:<step index>[...]:<name>` names."""
    if not idempotency_key:
        return None
    parts = idempotency_key.split(":", 2)
    if len(parts) < 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def check_anchors(
    items: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Checkpoint],
    problems: Sequence[str],
    *,
    in_flight: Collection[int] = (),
    warnings: Sequence[str] = (),
    trust: Trust = "own key",
) -> AnchorReport:
    """Compare the stored chain with its signed checkpoints (pure).

    - a checkpoint anchors more items than the database holds: the tail was deleted;
    - the item a checkpoint anchors has another link hash than was signed: that item or
      one before it was rewritten (named: the first after the last checkpoint that holds);
    - an item no checkpoint vouches for (each vouches for the items its writer appended,
      `first..items`) is a failure, unless it is in `in_flight`: collected by a step that is
      still running, between its commit and its checkpoint. A forgery appended after the
      newest checkpoint is such an item, and so is one a later legitimate append built on.
    """
    broken = [Broken(0, "checkpoint log", p) for p in problems]
    by_n = {int(i["n"]): i for i in items}
    # A purge (retention) starts the chain afresh: only later checkpoints apply.
    purges = [k for k, c in enumerate(checkpoints) if c.purged]
    if purges:
        checkpoints = checkpoints[purges[-1] + 1 :]
    if not checkpoints and not items:
        return AnchorReport(0, 0, None, broken, [], list(warnings), trust)
    top = max((c.items for c in checkpoints), default=0)
    if top > len(items):
        first_gone = len(items) + 1
        broken.append(
            Broken(
                first_gone,
                "(deleted)",
                f"a signed checkpoint anchors {top} items but the database holds "
                f"{len(items)}: item(s) {first_gone}..{top} were deleted",
            )
        )
    last_good = 0
    vouched: set[int] = set()
    for c in sorted(checkpoints, key=lambda c: (c.items, c.at)):
        item = by_n.get(c.items)
        if item is None:
            continue  # reported above as deleted
        if item["chain_hash"] != c.head:
            first = last_good + 1
            named = by_n.get(first)
            broken.append(
                Broken(
                    first,
                    str(named["name"]) if named is not None else "?",
                    f"rewritten: the chain up to item {c.items} differs from the checkpoint "
                    f"signed at {c.at} (items up to {last_good} still match)",
                )
            )
            break
        last_good = max(last_good, c.items)
        vouched.update(range(max(c.first, 1), c.items + 1))
    pending: list[int] = []
    for n in sorted(by_n):
        if n in vouched:
            continue
        if n in in_flight:
            pending.append(n)
            continue
        broken.append(
            Broken(
                n,
                str(by_n[n]["name"]),
                "not anchored: no signed checkpoint vouches for this item and no step that "
                "could still anchor it is running (appended outside defib, or its checkpoint "
                "was never written)",
            )
        )
    newest = checkpoints[-1].at if checkpoints else None
    return AnchorReport(
        len(checkpoints),
        len(vouched & set(by_n)),
        newest,
        broken,
        pending,
        list(warnings),
        trust,
    )
