"""API token routes: an admin creates, lists and revokes tokens over HTTP (`defib tokens` and
`defib login` use them), and any caller can ask who it is (`/tokens/me`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from defib.api.deps import Admin, Authenticated, RuntimeDep
from defib.api.errors import error_responses
from defib.api.pagination import (
    CursorQuery,
    LimitQuery,
    Page,
    decode_int_cursor,
    encode_cursor,
)
from defib.api.schemas import Timestamp
from defib.auth import Role, generate_token
from defib.store import tokens as repo
from defib.store.tokens import TokenRecord

router = APIRouter(prefix="/tokens", tags=["tokens"])

_ERRORS = error_responses(
    404, d403="only an admin token may manage tokens", d404="no active token of that name"
)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Who uses it: the actor.")
    role: Role


class TokenOut(BaseModel):
    name: str
    role: Role
    prefix: str = Field(description="The first characters, to recognise it; never the secret.")
    created_at: Timestamp
    created_by: str
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, r: TokenRecord) -> TokenOut:
        return cls(
            name=r.name,
            role=r.role,
            prefix=r.prefix,
            created_at=r.created_at,
            created_by=r.created_by,
            revoked_at=r.revoked_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(description="The secret, shown this once; only its hash is kept.")


class TokenPage(Page[TokenOut]):
    """Tokens in creation order."""


class WhoAmI(BaseModel):
    name: str
    role: Role


@router.get("/me", response_model=WhoAmI, responses=error_responses(base=(401,)))
async def who_am_i(principal: Authenticated) -> WhoAmI:
    """The calling token's name and role (`defib login` checks a token with it)."""
    return WhoAmI(name=principal.name, role=principal.role)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, responses=_ERRORS
)
def create_token(body: TokenIn, runtime: RuntimeDep, admin: Admin) -> TokenCreated:
    """Create a token; the response carries the secret once."""

    name = body.name.strip()
    token = generate_token()
    with runtime.db.write() as conn:
        record = repo.create_token(
            conn, name=name, role=body.role, token=token, created_by=admin.name, now=runtime.now()
        )
    return TokenCreated(**TokenOut.of(record).model_dump(), token=token)


@router.get("", response_model=TokenPage, responses=_ERRORS)
def list_tokens(
    runtime: RuntimeDep,
    _: Admin,
    include_revoked: Annotated[bool, Query(description="Include revoked tokens.")] = False,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> TokenPage:
    """Tokens in creation order (names, roles, prefixes; never the secrets)."""
    after = decode_int_cursor("tokens", cursor) if cursor else 0
    with runtime.db.read() as conn:
        records = repo.list_tokens(conn, include_revoked=include_revoked)
    records = [r for r in records if r.id > after]
    page = records[:limit]
    more = len(records) > limit
    return TokenPage(
        items=[TokenOut.of(r) for r in page],
        next_cursor=encode_cursor("tokens", page[-1].id) if more else None,
    )


@router.delete("/{name}", response_model=TokenOut, responses=_ERRORS)
async def revoke_token(name: str, runtime: RuntimeDep, _: Admin) -> TokenOut:
    """Revoke the active token with this name (cached lookups expire within seconds)."""

    def txn() -> TokenOut:
        now = runtime.now()
        with runtime.db.write() as conn:
            active = {r.name: r for r in repo.list_tokens(conn)}
            repo.revoke_token(conn, name, now)
        return TokenOut.of(active[name]).model_copy(update={"revoked_at": now})

    return await run_in_threadpool(txn)
