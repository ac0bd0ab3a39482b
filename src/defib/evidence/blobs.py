"""A content-addressed file store: `<root>/sha256/<ab>/<hex>`, written once, read-only.

Folders are 0700 and blobs 0400: evidence holds raw captures the API shows to admins
only, so no other local user may read it (issue 11).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from defib.evidence.chain import content_hash
from defib.hardening import private_dir


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
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
