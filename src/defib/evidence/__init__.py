"""Tamper-evident evidence: content-addressed (SHA-256) blobs, hash-chained per incident."""

from defib.evidence.blobs import BlobStorage, BlobStore, DatabaseBlobStore, FileBlobStore
from defib.evidence.chain import Broken, VerifyReport, content_hash, link_hash, verify_chain
from defib.evidence.redact import redact_text
from defib.evidence.service import (
    EvidenceLocked,
    EvidenceService,
    ItemDraft,
    ItemView,
)

__all__ = [
    "BlobStorage",
    "BlobStore",
    "Broken",
    "DatabaseBlobStore",
    "EvidenceLocked",
    "EvidenceService",
    "FileBlobStore",
    "ItemDraft",
    "ItemView",
    "VerifyReport",
    "content_hash",
    "link_hash",
    "redact_text",
    "verify_chain",
]
