"""The signature and idempotency headers defib's outgoing webhooks carry.

Signatures follow Standard Webhooks (standardwebhooks.com, the `standardwebhooks`
package): `webhook-id` (our idempotency key: the same on every retry of one delivery),
`webhook-timestamp` (Unix seconds at sending) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`). The timestamp is signed, so a receiver
that refuses old timestamps (the library's verify allows five minutes) is safe from a
captured request replayed later; the id lets it drop a delivery it already applied.

A secret of the standard form `whsec_<base64>` is used as the standard says; any other
string is taken as the key bytes themselves (receivers then pass `secret.encode()` to
`standardwebhooks.Webhook`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _webhook(secret: str) -> Webhook:
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


def signature_headers(
    body: bytes, secret: str, message_id: str, *, now: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, sent as `message_id` at `now`."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    signature = _webhook(secret).sign(message_id, at, body.decode())
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(int(at.timestamp())),
        SIGNATURE_HEADER: signature,
    }


def verify(body: bytes, secret: str, headers: Mapping[str, str]) -> bool:
    """What a receiver does: check the signature and that the timestamp is recent."""
    try:
        _webhook(secret).verify(body, dict(headers), json_parse=False)
    except WebhookVerificationError:
        return False
    return True
