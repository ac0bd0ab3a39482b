"""Who is looking at the console: the signed session cookie, resolved to a principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from defib.auth import ANONYMOUS_ADMIN, Permission, Principal
from defib.bootstrap import Runtime
from defib.store import audit as audit_repo
from defib.store import tokens as token_repo
from defib.web.session import COOKIE, Session, SessionCodec

MAX_FORM_BYTES = 64 * 1024


class LoginRequired(Exception):
    """No valid session: pages redirect to /login, fragments tell htmx to go there."""


class Refused(Exception):
    """The session may not do this (role or CSRF); answered with a 403 page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    session: Session

    @property
    def can_respond(self) -> bool:
        return self.principal.can(Permission.RESPOND)

    def require(self, permission: Permission, what: str) -> None:
        if not self.principal.can(permission):
            raise Refused(
                f"{self.principal.name} has role {self.principal.role.value}, which may not {what}"
            )


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def codec_of(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.console_codec
    return codec


SIGNED_OUT = "console_signed_out"


def _principal(runtime: Runtime, session: Session) -> Principal | None:
    with runtime.db.read() as conn:
        # Signed out (on any replica): the cookie is dead even before it expires.
        if audit_repo.exists(conn, SIGNED_OUT, session.id):
            return None
        return token_repo.principal_for_hash(conn, session.token_hash)


async def current_viewer(request: Request) -> Viewer:
    session = codec_of(request).session(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequired
    if not request.app.state.auth_enabled:
        return Viewer(ANONYMOUS_ADMIN, session)
    # Looked up on every request, so a revoked token, a changed role or a sign-out applies
    # at once.
    principal = await run_in_threadpool(_principal, runtime_of(request), session)
    if principal is None or not principal.can(Permission.READ):
        raise LoginRequired
    return Viewer(principal, session)


async def read_form(request: Request, viewer: Viewer | None = None) -> dict[str, str]:
    """The url-encoded form body; with a viewer, its CSRF token must match the session's."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused("form too large")
    form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    if viewer is not None and not viewer.session.csrf_ok(form.get("csrf")):
        raise Refused("the form's CSRF token does not match this session; reload the page")
    return form


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


class PageNotFound(Exception):
    """A console page for something that does not exist: a 404 page, not JSON."""
