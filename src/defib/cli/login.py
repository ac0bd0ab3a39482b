"""`defib login` / `defib logout`: remember which server and token every command uses."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from defib.cli.common import ConfigOption
from defib.cli.output import console, fail


def login(
    url: Annotated[
        str | None,
        typer.Option(help="The server (default: this machine's, from host and port)."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="An API token (default: DEFIB_TOKEN, or asked for).")
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option(help="Read the token from this file (e.g. an admin-token).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check a token against a server and remember both (user config dir, mode 0600)."""
    from defib.cli.client import import_httpx, local_admin_token, target_or_exit
    from defib.cli.credentials import Login, write_login

    import_httpx()
    import httpx

    settings = target_or_exit(config)
    target = (url or settings.url or settings.local_url).rstrip("/")
    if not target.startswith(("http://", "https://")):
        fail(f"--url: must start with http:// or https:// (got {target!r})")
    secret = token or settings.token
    if secret is None and token_file is not None:
        try:
            secret = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"--token-file: cannot read {token_file}: {exc.strerror or exc}")
    if secret is None and url is None:
        # Logging in to this machine's own server: its data directory holds the admin token.
        secret = local_admin_token(settings)
    if secret is None:
        if not sys.stdin.isatty():
            fail("no token: pass --token, --token-file or DEFIB_TOKEN")
        secret = typer.prompt("Token", hide_input=True).strip()
    if not secret:
        fail("the token is empty")
    try:
        response = httpx.get(
            f"{target}/api/v1/tokens/me",
            headers={"Authorization": f"Bearer {secret}", "User-Agent": "defib-cli"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach defib at {target}: {exc} (is `defib serve` running?)")
    if response.status_code == 401:
        fail(f"{target} refused the token (unknown or revoked)")
    if response.status_code != 200:
        fail(f"{target} answered HTTP {response.status_code} to /api/v1/tokens/me: is it defib?")
    me = response.json()
    path = write_login(Login(url=target, token=secret))
    console.print(
        f"logged in to {target} as {me['name']} ({me['role']}); saved in {path} (mode 0600)"
    )


def logout() -> None:
    """Forget the remembered server and token."""
    from defib.cli.credentials import forget_login

    path = forget_login()
    console.print(f"logged out (removed {path})" if path else "not logged in; nothing to forget")
