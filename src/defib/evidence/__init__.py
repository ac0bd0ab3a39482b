"""Tamper-evident evidence: content-addressed (SHA-256) blobs, hash-chained per incident."""

from defib.evidence.blobs import BlobStore
from defib.evidence.chain import Broken, VerifyReport, content_hash, link_hash, verify_chain
from defib.evidence.redact import redact_text
from defib.evidence.service import (
    EvidenceLocked,
    EvidenceService,
    ItemDraft,
    ItemView,
)

__all__ = [
    "BlobStore",
    "Broken",
    "EvidenceLocked",
    "EvidenceService",
    "ItemDraft",
    "ItemView",
    "VerifyReport",
    "content_hash",
    "link_hash",
    "redact_text",
    "verify_chain",
]
