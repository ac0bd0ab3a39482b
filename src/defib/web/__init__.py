"""The responder console: server-rendered pages at `/`, over the services the API uses.

Pages are Jinja2 templates; live parts are small fragments htmx polls. Every asset is in
`static/` and served by defib itself (see static/VERSIONS.md).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from defib.bootstrap import Runtime
from defib.web import actions, incidents, login, overview
from defib.web.deps import LoginRequired, PageNotFound, Refused
from defib.web.render import STATIC_DIR, page
from defib.web.secret import session_secret
from defib.web.session import SessionCodec

__all__ = ["install"]


def install(app: FastAPI, runtime: Runtime) -> None:
    """Mount the console's pages and static files on the API's app."""
    app.state.console_codec = SessionCodec(session_secret(runtime.settings, runtime.db))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (login, incidents, actions, overview):
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
            request, "error.html", None, status_code=403, title="Not allowed", message=exc.message
        )

    @app.exception_handler(PageNotFound)
    async def _missing(request: Request, exc: PageNotFound) -> HTMLResponse:
        return page(
            request, "error.html", None, status_code=404, title="Not found", message=str(exc)
        )
