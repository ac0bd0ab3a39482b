"""The responder console: server-rendered pages at `/`, over the services the API uses.

Pages are Jinja2 templates; live parts are small fragments htmx polls. Every asset is in
`static/` and served by defib itself (see static/VERSIONS.md).
"""

from __future__ import annotations

import inspect
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from defib.bootstrap import Runtime
from defib.web import actions, incidents, login, oncall, overview, silences
from defib.web.deps import LoginRequired, PageNotFound, Refused, Viewer, current_viewer
from defib.web.render import STATIC_DIR, page
from defib.web.secret import session_secret
from defib.web.session import SessionCodec

__all__ = ["install"]


def wants_page(request: Request) -> bool:
    """A browser's page request (not the API's, not a script's): HTML accepted, GET."""
    path = request.url.path
    if request.method != "GET" or path.startswith(("/api/", "/static/", "/v1/", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _viewer_or_none(request: Request) -> Viewer | None:
    """Who is signed in, if anyone: an error page keeps the navigation for them."""
    try:
        return await current_viewer(request)
    except LoginRequired:
        return None


def install(app: FastAPI, runtime: Runtime) -> None:
    """Mount the console's pages and static files on the API's app."""
    app.state.console_codec = SessionCodec(session_secret(runtime.settings, runtime.db))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (login, incidents, actions, overview, silences, oncall):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url = f"/login?next={quote(target, safe='')}"
        if request.headers.get("HX-Request"):
            # A poll from an expired session: htmx follows HX-Redirect with a full load.
            return Response(status_code=401, headers={"HX-Redirect": url})
        if request.method != "GET":
            url = "/login"
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> HTMLResponse:
        return page(
            request,
            "error.html",
            await _viewer_or_none(request),
            status_code=403,
            title="Not allowed",
            message=exc.message,
        )

    @app.exception_handler(PageNotFound)
    async def _missing(request: Request, exc: PageNotFound) -> HTMLResponse:
        return page(
            request,
            "error.html",
            await _viewer_or_none(request),
            status_code=404,
            title="Not found",
            message=str(exc),
        )

    api_http_handler = app.exception_handlers.get(StarletteHTTPException)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser asking for a page that does not exist gets the console's 404 page
        (with its navigation); the API and every other client keep their JSON error."""
        if exc.status_code == 404 and wants_page(request):
            return page(
                request,
                "error.html",
                await _viewer_or_none(request),
                status_code=404,
                title="Not found",
                message=f"There is no page at {request.url.path}.",
            )
        assert api_http_handler is not None
        answer = api_http_handler(request, exc)
        response: Response = await answer if inspect.isawaitable(answer) else answer
        return response
