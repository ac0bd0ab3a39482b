"""The signature and idempotency headers defib's outgoing webhooks carry."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Defib-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(sign(body, secret), signature)
