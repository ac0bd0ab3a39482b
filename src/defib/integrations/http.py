"""One JSON POST with the failure classification every HTTP channel shares."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from defib.integrations.base import DeliveryError, mask_url


def retry_after_seconds(value: str | None, now: datetime) -> float:
    """Seconds a `Retry-After` asks for: delta-seconds or an HTTP date (RFC 9110 10.2.3);
    0 when absent, unreadable or already past."""
    text = (value or "").strip()
    if not text:
        return 0.0
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _retry_after(response: httpx.Response) -> float:
    return retry_after_seconds(response.headers.get("Retry-After"), datetime.now(UTC))


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
