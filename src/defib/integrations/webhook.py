"""A generic JSON webhook, signed (Standard Webhooks) when a secret is configured."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from defib.integrations.base import Notice, mask_url
from defib.integrations.http import post, status_detail
from defib.integrations.signing import IDEMPOTENCY_HEADER, signature_headers


def notice_body(notice: Notice, idempotency_key: str) -> dict[str, Any]:
    body = asdict(notice)
    body["systems"] = list(notice.systems)
    body["idempotency_key"] = idempotency_key
    body["event"] = "incident.notification"
    return body


@dataclass(frozen=True, slots=True)
class SignedWebhook:
    client: httpx.AsyncClient
    url: str
    secret: str | None = None
    channel: str = "webhook"

    @property
    def target(self) -> str:
        return mask_url(self.url)

    async def send_once(self, notice: Notice, idempotency_key: str) -> Mapping[str, Any]:
        body = json.dumps(
            notice_body(notice, idempotency_key), separators=(",", ":"), sort_keys=True
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "defib-notify",
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        if self.secret is not None:
            headers.update(signature_headers(body, self.secret, idempotency_key))
        response = await post(self.client, self.url, body, headers)
        return {**status_detail(response), "signed": self.secret is not None}
