"""One JSON POST with the failure classification every HTTP channel shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from defib.integrations.base import DeliveryError, mask_url


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]
) -> httpx.Response:
    """POST; DeliveryError retryable on network errors, 429 and 5xx, final on other 4xx."""
    where = mask_url(url)
    try:
        response = await client.post(url, content=body, headers=dict(headers))
    except httpx.HTTPError as exc:
        raise DeliveryError(f"POST {where}: {type(exc).__name__}: {exc}", retryable=True) from exc
    code = response.status_code
    if code == 429 or code >= 500:
        raise DeliveryError(
            f"POST {where}: HTTP {code}",
            retryable=True,
            status=code,
            retry_after=_retry_after(response),
        )
    if code >= 300:
        snippet = response.text[:200].strip()
        raise DeliveryError(
            f"POST {where}: HTTP {code}" + (f": {snippet}" if snippet else ""),
            retryable=False,
            status=code,
        )
    return response


def status_detail(response: httpx.Response) -> dict[str, Any]:
    return {"status_code": response.status_code}
