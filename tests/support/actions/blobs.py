"""Changing stored evidence bytes behind defib's back, whichever store holds them."""

from __future__ import annotations

from sqlalchemy import update

from defib.evidence import EvidenceService
from defib.evidence.blobs import DatabaseBlobStore, FileBlobStore, LayeredBlobStore
from defib.evidence.s3 import S3BlobStore
from defib.store.tables import evidence_blobs


def overwrite_blob(svc: EvidenceService, sha256: str, data: bytes) -> None:
    """Replace the bytes stored under `sha256` (an attacker with disk or database access)."""
    store = svc.blobs
    if isinstance(store, LayeredBlobStore):
        store = store.primary
    if isinstance(store, FileBlobStore):
        path = store.path(sha256)
        path.chmod(0o644)
        path.write_bytes(data)
    elif isinstance(store, S3BlobStore):
        assert store._request("PUT", sha256, data).status_code == 200
    elif isinstance(store, DatabaseBlobStore):
        with store.db.write() as conn:
            conn.execute(
                update(evidence_blobs).where(evidence_blobs.c.sha256 == sha256).values(data=data)
            )
    else:
        raise TypeError(f"unknown blob store {store!r}")


def flip_a_byte(svc: EvidenceService, sha256: str) -> None:
    data = bytearray(svc.blobs.read(sha256) or b"")
    data[len(data) // 2] ^= 0x01
    overwrite_blob(svc, sha256, bytes(data))
