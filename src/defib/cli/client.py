"""An HTTP client for the defib API, for CLI commands that act on a running server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from defib.cli.output import fail
from defib.config import Settings


def resolve_token(settings: Settings) -> str | None:
    """DEFIB_TOKEN wins; otherwise the local admin-token file, if there is one."""
    if settings.token:
        return settings.token
    path: Path = settings.admin_token_path
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    return None


class ApiClient:
    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"User-Agent": "defib-cli"}
        token = resolve_token(settings)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = settings.url.rstrip("/")
        timeout = float(os.environ.get("DEFIB_HTTP_TIMEOUT", "30"))
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach defib at {self.base_url}: {exc} (is `defib serve` running?)")
        if response.status_code >= 400:
            fail(_describe(response))
        if not response.content:
            return None
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def close(self) -> None:
        self._client.close()


def _describe(response: httpx.Response) -> str:
    try:
        body = response.json()
        err = body["error"]
        message = f"{err['message']} ({err['code']}, HTTP {response.status_code})"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code == 401:
        message += "; set DEFIB_TOKEN or create one with `defib tokens create`"
    return message
