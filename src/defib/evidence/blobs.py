"""Where evidence bytes live, content-addressed by SHA-256 and written once.

- `DatabaseBlobStore`: the `evidence_blobs` table, read by every replica and worker (the
  default on PostgreSQL: a worker's collected bytes must verify from any replica).
- `FileBlobStore`: `<root>/sha256/<ab>/<hex>` on this host (the default on SQLite: one
  process, one disk). Folders are 0700 and blobs 0400: evidence holds raw captures the API
  shows to admins only, so no other local user may read it (issue 11).
- `LayeredBlobStore`: writes to one store and also reads an older one, so bytes stored on
  disk before the database store was the default still verify.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from defib.evidence.chain import content_hash
from defib.hardening import private_dir
from defib.store import evidence as repo
from defib.store.database import Database


class BlobStorage(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data` durably (once); return its SHA-256."""
        ...

    def read(self, sha256: str) -> bytes | None: ...

    def remove(self, sha256: str) -> None: ...


def _check_digest(sha256: str) -> None:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        _check_digest(sha256)
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` (once: the same bytes are one file) durably; return its SHA-256."""
        digest = content_hash(data)
        target = self.path(digest)
        if target.exists():
            return digest
        for folder in (self.root, self.root / "sha256", target.parent):
            private_dir(folder)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o400)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def read(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)


class DatabaseBlobStore:
    """Bytes in the database: committed before the item rows that name them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, data: bytes) -> str:
        digest = content_hash(data)
        at = datetime.now(UTC)
        self.db.transact(lambda conn: repo.put_blob(conn, digest, data, at))
        return digest

    def read(self, sha256: str) -> bytes | None:
        _check_digest(sha256)
        with self.db.read() as conn:
            return repo.read_blob(conn, sha256)

    def remove(self, sha256: str) -> None:
        self.db.transact(lambda conn: repo.delete_blob(conn, sha256))


# The file store's name before issue 25 (tests and scripts build it by that name).
BlobStore = FileBlobStore


class LayeredBlobStore:
    """Writes go to `primary`; reads fall back to `legacy` (bytes stored before)."""

    def __init__(self, primary: BlobStorage, legacy: BlobStorage) -> None:
        self.primary = primary
        self.legacy = legacy

    def put(self, data: bytes) -> str:
        return self.primary.put(data)

    def read(self, sha256: str) -> bytes | None:
        data = self.primary.read(sha256)
        return data if data is not None else self.legacy.read(sha256)

    def remove(self, sha256: str) -> None:
        self.primary.remove(sha256)
        self.legacy.remove(sha256)
