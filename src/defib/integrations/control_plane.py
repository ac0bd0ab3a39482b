"""A team's own control plane: signed JSON POSTs of containment and rollback commands.

Body: `{"action": "disable"|"enable"|"add_filters"|"remove_filters"|"rollback", "system",
"incident", "idempotency_key", ...}`, with `Idempotency-Key` and, when a secret is
configured, the Standard Webhooks headers (`webhook-id` = the key, `webhook-timestamp`,
`webhook-signature`; see integrations/signing.py). The receiver must apply each key once: a
step re-executed after a crash sends the same key again.

`ControlPlane` is the one client: the kill switch, filters (actions/containment.py), the
rollback (actions/rollback.py) and the API's switch all send through `command`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from defib.integrations.base import RetryPolicy, mask_url, retrying
from defib.integrations.http import post, status_detail
from defib.integrations.signing import IDEMPOTENCY_HEADER, signature_headers


def command_body(action: str, system: str, incident: str, key: str, **extra: Any) -> bytes:
    body = {
        "action": action,
        "system": system,
        "incident": incident,
        "idempotency_key": key,
        **extra,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """One control-plane endpoint (a system's `control` or `registry` URL) on a client."""

    client: httpx.AsyncClient
    url: str
    secret: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def target(self) -> str:
        return mask_url(self.url)

    async def send(self, body: bytes, idempotency_key: str) -> Mapping[str, Any]:
        """One attempt; DeliveryError (retryable or not) on failure."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "defib-control",
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        if self.secret is not None:
            headers.update(signature_headers(body, self.secret, idempotency_key))
        response = await post(self.client, self.url, body, headers)
        return {**status_detail(response), "signed": self.secret is not None}

    async def command(
        self, action: str, system: str, incident: str, key: str, **extra: Any
    ) -> Mapping[str, Any]:
        """Send one command, retried under the same key; DeliveryFailed when every attempt
        failed (or one failed for good)."""
        body = command_body(action, system, incident, key, **extra)
        detail, attempts = await retrying(lambda: self.send(body, key), self.retry)
        return {**detail, "attempts": attempts, "target": self.target}
