"""FastAPI dependencies: the runtime and the caller's principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from defib.api.errors import ApiError
from defib.auth import ANONYMOUS_ADMIN, Permission, Principal
from defib.bootstrap import Runtime

_bearer = HTTPBearer(
    auto_error=False, description="An API token: `Authorization: Bearer defib_...`"
)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if not request.app.state.auth_enabled:
        return ANONYMOUS_ADMIN
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "missing bearer token", challenge)
    cache = get_runtime(request).tokens
    found, principal = cache.cached(credentials.credentials)
    if not found:
        # Async dependencies skip FastAPI's thread hop; only a cache miss touches the database.
        principal = await run_in_threadpool(cache.lookup, credentials.credentials)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or revoked token", challenge)
    return principal


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.can(permission):
            raise ApiError(
                403,
                "forbidden",
                f"token {principal.name!r} has role {principal.role.value}, "
                f"which may not {permission.value.replace(':', ' ')}",
            )
        return principal

    return check


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
Reader = Annotated[Principal, Depends(require(Permission.READ))]
Responder = Annotated[Principal, Depends(require(Permission.RESPOND))]
Ingester = Annotated[Principal, Depends(require(Permission.INGEST))]
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
# Any valid token, whatever its role (ingest included): who-am-i style routes.
Authenticated = Annotated[Principal, Depends(get_principal)]
