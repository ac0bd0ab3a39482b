"""An HTTP client for the defib API, for CLI commands that act on a running server.

`api_client(config)` reads only where the server is and which token to send
(`defib.config.target`: the same keys, from the same places, as `Settings`), not the whole
configuration, and httpx is loaded without its own command line: a list command then skips
pydantic-settings with every section (~260 ms) and Rich's syntax highlighting with pygments
(~150 ms); the goal is under 500 ms from start to the table (`make bench-cli`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from defib.cli.credentials import read_login
from defib.cli.output import fail

if TYPE_CHECKING:
    # httpx and the settings cost about 600 ms to import: `--help` must not pay for them.
    import httpx

    from defib.config import ClientTarget


class Target(Protocol):
    """What the client needs of the configuration: a `Settings`, or the `ClientTarget`
    that `api_client` reads without building one."""

    @property
    def url(self) -> str | None: ...
    @property
    def token(self) -> str | None: ...
    @property
    def local_url(self) -> str: ...
    @property
    def admin_token_path(self) -> Path: ...


def target_or_exit(config: Path | None) -> ClientTarget:
    """The server's URL, token, host, port and data directory, with CLI-grade errors."""
    from defib.config.target import ConfigError, read_target

    try:
        return read_target(config)
    except ConfigError as exc:
        fail(str(exc))


def api_client(config: Path | None) -> ApiClient:
    """The client a command's `--config` (or the environment, or `defib login`) points at."""
    return ApiClient(target_or_exit(config))


def import_httpx() -> None:
    """Import httpx without its command line. httpx's `__init__` imports `httpx._main` (its
    `httpx` console script: Rich's syntax highlighting, pygments, about 150 ms) whenever
    click and Rich are installed, as they are for Typer; defib never runs that script. A
    `None` in `sys.modules` makes that import fail, which httpx expects (it then defines a
    stub `httpx.main`); the entry is removed after, so a later `import httpx._main` works."""
    if "httpx" in sys.modules:
        return
    blocked = "httpx._main" not in sys.modules
    if blocked:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx  # noqa: F401
    finally:
        if blocked and sys.modules.get("httpx._main") is None:
            del sys.modules["httpx._main"]


def local_admin_token(settings: Target) -> str | None:
    path: Path = settings.admin_token_path
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    return None


def resolve_target(settings: Target) -> tuple[str, str | None]:
    """The server URL and token to use: the configuration (`url`, `token`, as flags, the
    environment or the YAML file) wins; then `defib login`; then this machine's own server
    (host and port settings) with the admin token of the local data directory."""
    login = read_login()
    url = settings.url or (login.url if login else None) or settings.local_url
    if settings.token:
        return url, settings.token
    if login is not None and login.url.rstrip("/") == url.rstrip("/"):
        return url, login.token
    return url, local_admin_token(settings)


class ApiClient:
    def __init__(self, settings: Target, *, transport: httpx.BaseTransport | None = None) -> None:
        import_httpx()
        import httpx

        headers = {"User-Agent": "defib-cli"}
        url, token = resolve_target(settings)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = url.rstrip("/")
        timeout = float(os.environ.get("DEFIB_HTTP_TIMEOUT", "30"))
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

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

    def get_all(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list route, following `next_cursor` page by page."""
        items: list[Any] = []
        query = dict(params or {})
        while True:
            page = self.get(path, params=query)
            items.extend(page["items"])
            if not page.get("next_cursor"):
                return items
            query["cursor"] = page["next_cursor"]

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def close(self) -> None:
        self._client.close()


def is_gateway_error(body: Any) -> bool:
    """An OpenAI-style error (`type`, no `code`) is the gateway's: defib's API always names
    an error `code`, and the gateway never speaks for the API's routes."""
    err = body.get("error") if isinstance(body, dict) else None
    return isinstance(err, dict) and "type" in err and not err.get("code")


def _describe(response: httpx.Response) -> str:
    try:
        body = response.json()
        err = body["error"]
        message = f"{err['message']} ({err['code']}, HTTP {response.status_code})"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    else:
        if is_gateway_error(body):
            return (
                f"{response.url.scheme}://{response.url.netloc.decode()} is defib's gateway"
                " (the OpenAI-compatible port your applications call), not its API: point"
                " DEFIB_URL (or --url, or `defib login --url`) at the API port instead; `defib"
                " serve` prints both (by default the API on 8000, the gateway on 8001)"
            )
    if response.status_code == 401:
        message += (
            "; log in with `defib login --url URL --token TOKEN` (an admin creates tokens with "
            "`defib tokens create`), or set DEFIB_TOKEN"
        )
    return message
