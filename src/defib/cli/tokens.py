"""`defib tokens`: manage API tokens directly in the database (an operator's tool)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from defib.auth import Role
from defib.cli.common import ConfigOption, JsonOption, settings_or_exit
from defib.cli.output import console, fail, print_json, print_table

if TYPE_CHECKING:
    from defib.bootstrap import Runtime

app = typer.Typer(no_args_is_help=True, help="API tokens (stored hashed).")


def _runtime(config: Path | None) -> Runtime:
    from defib.bootstrap import Runtime

    return Runtime(settings_or_exit(config))


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Who uses it; the actor on the timeline.")],
    role: Annotated[Role, typer.Option(help="ingest, viewer, responder or admin.")],
    config: ConfigOption = None,
    json: JsonOption = False,
) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from defib.auth import generate_token
    from defib.model import InvalidInput
    from defib.service import utcnow
    from defib.store import tokens as repo

    clean = name.strip()
    if not clean or len(clean) > 100:
        fail("--name: must be 1 to 100 characters")
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
    if json:
        print_json({"name": clean, "role": role.value, "token": token})
    else:
        console.print(f"token for {clean} ({role.value}); shown once, keep it safe:")
        print(token)


@app.command("list")
def list_(
    config: ConfigOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    json: JsonOption = False,
) -> None:
    """List tokens (names, roles, prefixes; never the secrets)."""
    from defib.store import tokens as repo

    runtime = _runtime(config)
    try:
        with runtime.db.read() as conn:
            records = repo.list_tokens(conn, include_revoked=all_)
    finally:
        runtime.close()
    rows: list[dict[str, str | None]] = [
        {
            "name": r.name,
            "role": r.role.value,
            "prefix": r.prefix,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in records
    ]
    if json:
        print_json(rows)
    else:
        print_table(
            "tokens",
            ["name", "role", "prefix", "created", "revoked"],
            [
                [r["name"], r["role"], f"{r['prefix']}…", r["created_at"], r["revoked_at"]]
                for r in rows
            ],
        )


@app.command()
def revoke(name: str, config: ConfigOption = None) -> None:
    """Revoke the active token with this name (takes effect within seconds)."""
    from defib.model import NotFound
    from defib.service import utcnow
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
