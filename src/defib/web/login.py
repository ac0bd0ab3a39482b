"""Sign-in with an API token, and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from defib.auth import Permission, hash_token
from defib.web.deps import ViewerDep, codec_of, read_form, runtime_of
from defib.web.render import page, redirect
from defib.web.session import COOKIE, LOGIN_COOKIE, LOGIN_MAX_AGE_SECONDS, MAX_AGE_SECONDS

router = APIRouter(include_in_schema=False)


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
        principal = (
            await run_in_threadpool(runtime_of(request).tokens.lookup, token) if token else None
        )
        if principal is None:
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
    response = redirect(request, "/login", "Signed out.")
    response.delete_cookie(COOKIE, path="/")
    return response
