"""Sign-in with an API token, and sign-out.

Failed sign-ins are logged and kept in the audit log (`console_signin_failed`, by client
address); past `MAX_FAILURES` within `FAILURE_WINDOW` from one address, sign-in answers 429
until the window passes, on every replica (the count is in the database). Signing out
records the session in the audit log (`console_signed_out`), and every request checks it,
so a copied cookie stops working at once (issue 25).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from defib.auth import Permission, hash_token
from defib.bootstrap import Runtime
from defib.store import audit as audit_repo
from defib.web.deps import SIGNED_OUT, ViewerDep, codec_of, read_form, runtime_of
from defib.web.render import page, redirect
from defib.web.session import COOKIE, LOGIN_COOKIE, LOGIN_MAX_AGE_SECONDS, MAX_AGE_SECONDS

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

SIGNIN_FAILED = "console_signin_failed"
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _throttled(runtime: Runtime, client: str) -> bool:
    with runtime.db.read() as conn:
        since = runtime.now() - FAILURE_WINDOW
        return audit_repo.count_since(conn, SIGNIN_FAILED, client, since) >= MAX_FAILURES


def _record(runtime: Runtime, kind: str, actor: str, subject: str, **data: str) -> None:
    with runtime.db.write() as conn:
        audit_repo.append(conn, audit_repo.AuditEvent(runtime.now(), actor, kind, subject, data))


def safe_next(target: str | None) -> str:
    """Only a local path: a sign-in link must not bounce people to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _login_page(request: Request, error: str | None, status_code: int = 200) -> HTMLResponse:
    nonce, cookie = codec_of(request).new_login_nonce()
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code,
        error=error,
        login_nonce=nonce,
        next=safe_next(request.query_params.get("next")),
        auth_enabled=request.app.state.auth_enabled,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    return _login_page(request, None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    codec = codec_of(request)
    if not codec.login_nonce_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _login_page(request, "The sign-in form expired; please try again.", 403)
    token = form.get("token", "").strip()
    if request.app.state.auth_enabled:
        runtime, client = runtime_of(request), _client(request)
        if await run_in_threadpool(_throttled, runtime, client):
            log.warning("console sign-in from %s refused: too many failures", client)
            return _login_page(
                request, "Too many failed sign-ins from here; try again in 15 minutes.", 429
            )
        principal = await run_in_threadpool(runtime.tokens.lookup, token) if token else None
        if principal is None:
            log.warning("console sign-in failed from %s: unknown or revoked token", client)
            shown = token[:10] + "…" if token else "(empty)"
            await run_in_threadpool(
                _record, runtime, SIGNIN_FAILED, "anonymous", client, token_prefix=shown
            )
            return _login_page(request, "This token is unknown or revoked.", 401)
        if not principal.can(Permission.READ):
            return _login_page(
                request,
                f"Token {principal.name!r} has role {principal.role.value}: it may not read.",
                403,
            )
    _, cookie = codec.new_session(hash_token(token) if token else "-")
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    await read_form(request, viewer)
    if request.app.state.auth_enabled:
        name = viewer.principal.name
        await run_in_threadpool(
            _record, runtime_of(request), SIGNED_OUT, name, viewer.session.id, who=name
        )
    response = redirect(request, "/login", "Signed out.")
    response.delete_cookie(COOKIE, path="/")
    return response
