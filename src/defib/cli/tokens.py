"""`defib tokens`: manage API tokens on the server you are logged into (admin token needed);
`--local` writes this machine's database directly instead (bootstrapping, recovery)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from defib.auth import Role
from defib.cli.common import ConfigOption, JsonOption, settings_or_exit
from defib.cli.output import console, fail, print_json, print_table
from defib.timefmt import display, rfc3339_seconds

if TYPE_CHECKING:
    from defib.bootstrap import Runtime
    from defib.cli.client import ApiClient

app = typer.Typer(no_args_is_help=True, help="API tokens (stored hashed).")

LocalOption = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Use this machine's database directly instead of the server (no token needed).",
    ),
]


def _client(config: Path | None) -> ApiClient:
    from defib.cli.client import api_client

    return api_client(config)


def _runtime(config: Path | None) -> Runtime:
    from defib.bootstrap import Runtime

    return Runtime(settings_or_exit(config))


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Who uses it; the actor on the timeline.")],
    role: Annotated[Role, typer.Option(help="ingest, viewer, responder or admin.")],
    config: ConfigOption = None,
    json: JsonOption = False,
    local: LocalOption = False,
) -> None:
    """Create a token and print it once (only its hash is kept)."""
    clean = name.strip()
    if not clean or len(clean) > 100:
        fail("--name: must be 1 to 100 characters")
    token = (
        _create_local(config, clean, role)
        if local
        else _client(config).post("/api/v1/tokens", json={"name": clean, "role": role.value})[
            "token"
        ]
    )
    if json:
        print_json({"name": clean, "role": role.value, "token": token})
    else:
        console.print(f"token for {clean} ({role.value}); shown once, keep it safe:")
        print(token)


def _create_local(config: Path | None, clean: str, role: Role) -> str:
    from defib.auth import generate_token
    from defib.clock import utcnow
    from defib.model import InvalidInput
    from defib.store import tokens as repo

    runtime = _runtime(config)
    token = generate_token()
    try:
        with runtime.db.write() as conn:
            repo.create_token(
                conn, name=clean, role=role, token=token, created_by="cli", now=utcnow()
            )
    except InvalidInput as exc:
        fail(str(exc))
    finally:
        runtime.close()
    return token


@app.command("list")
def list_(
    config: ConfigOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    json: JsonOption = False,
    local: LocalOption = False,
) -> None:
    """List tokens (names, roles, prefixes; never the secrets)."""
    rows = _list_local(config, all_) if local else _list_remote(config, all_)
    if json:
        print_json(rows)
    else:
        print_table(
            "tokens",
            ["name", "role", "prefix", "created", "revoked"],
            [
                [
                    r["name"],
                    r["role"],
                    f"{r['prefix']}…",
                    display(r["created_at"]),
                    _at(r["revoked_at"]),
                ]
                for r in rows
            ],
        )


def _at(value: str | None) -> str:
    return display(value) if value else ""


def _list_remote(config: Path | None, all_: bool) -> list[dict[str, str | None]]:
    client = _client(config)
    rows: list[dict[str, str | None]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str] = {"include_revoked": str(all_).lower(), "limit": "500"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/tokens", params=params)
        rows += [
            {k: t[k] for k in ("name", "role", "prefix", "created_at", "revoked_at")}
            for t in page["items"]
        ]
        cursor = page.get("next_cursor")
        if not cursor:
            return rows


def _list_local(config: Path | None, all_: bool) -> list[dict[str, str | None]]:
    from defib.store import tokens as repo

    runtime = _runtime(config)
    try:
        with runtime.db.read() as conn:
            records = repo.list_tokens(conn, include_revoked=all_)
    finally:
        runtime.close()
    return [
        {
            "name": r.name,
            "role": r.role.value,
            "prefix": r.prefix,
            "created_at": rfc3339_seconds(r.created_at),
            "revoked_at": rfc3339_seconds(r.revoked_at) if r.revoked_at else None,
        }
        for r in records
    ]


@app.command()
def revoke(name: str, config: ConfigOption = None, local: LocalOption = False) -> None:
    """Revoke the active token with this name (takes effect within seconds)."""
    from defib.model import NotFound

    if not local:
        from urllib.parse import quote

        _client(config).request("DELETE", f"/api/v1/tokens/{quote(name, safe='')}")
        console.print(f"revoked {name}")
        return
    from defib.clock import utcnow
    from defib.store import tokens as repo

    runtime = _runtime(config)
    try:
        with runtime.db.write() as conn:
            repo.revoke_token(conn, name, utcnow())
    except NotFound as exc:
        fail(str(exc))
    finally:
        runtime.close()
    console.print(f"revoked {name}")
