"""Jinja2 rendering for the console, with the headers every console page carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from defib.events import TimelineKind
from defib.incidents import story
from defib.incidents.sentences import APPROVING, UTC_TEXT
from defib.store import waiting as waiting_repo
from defib.web.deps import Viewer, codec_of, runtime_of
from defib.web.session import FLASH_COOKIE, FLASH_MAX_AGE_SECONDS
from defib.web.views import WAITING_LABELS, describe_event, human_duration

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

# Scripts and styles only from defib itself; htmx runs with eval off (see base.html).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _time(value: datetime | str | None, style: str = "full") -> Markup:
    """A <time> in UTC, ISO-8601 and 24-hour; console.js rewrites the text into the viewer's
    zone the same way (`data-local` says full date or only the clock) with UTC on hover."""
    if value is None:
        return Markup("—")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return escape(value)
    utc = (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)
    iso = utc.isoformat().replace("+00:00", "Z")
    full = utc.strftime(UTC_TEXT)
    text = full if style == "full" else utc.strftime("%H:%M:%S UTC")
    return Markup('<time datetime="{}" title="{}" data-local="{}">{}</time>').format(
        iso, full, style, text
    )


def _clock(value: datetime | str | None) -> Markup:
    """Only the time of day (the incident's date is in its header), the full time on hover."""
    return _time(value, "clock")


def _age(value: datetime, now: datetime) -> Markup:
    """How long ago, with the exact UTC time on hover."""
    utc = value.astimezone(UTC)
    iso = utc.isoformat().replace("+00:00", "Z")
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    ago = human_duration((now - value).total_seconds()) + " ago"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, text, ago)


def _said(line: story.Line) -> Markup:
    """A story line on the page. A wait for approval names its deadline as every other time
    here is shown (`_time`: the viewer's zone, UTC on hover), and leaves what approving lets
    the step do to "What waits for you", which says it once, next to the buttons."""
    if line.kind != TimelineKind.STEP_WAITING_APPROVAL:
        return escape(line.text)
    head = line.text.partition(APPROVING)[0]
    before, until, when = head.rpartition(" until ")
    try:
        deadline = datetime.strptime(when, UTC_TEXT).replace(tzinfo=UTC)
    except ValueError:
        return escape(head)  # no deadline (or not in the sentences' format): said as it is
    return escape(before) + Markup(until) + _time(deadline)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = _time
    env.filters["pretty"] = _pretty
    env.filters["said"] = _said
    env.filters["age"] = _age
    env.globals["describe_event"] = describe_event
    env.globals["impact_text"] = story.impact_text
    env.globals["WAITING_LABELS"] = WAITING_LABELS
    env.globals["actor_name"] = story.who
    env.filters["clock"] = _clock
    return env


ENV = _build_env()


def _approvals_count(request: Request) -> int:
    """Steps waiting for approval, for the nav (one COUNT; 0 if the database is away, so a
    page never fails for its nav)."""
    try:
        with runtime_of(request).db.read() as conn:
            return waiting_repo.approvals_waiting(conn)
    except Exception:
        return 0


def page(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = codec_of(request).read_flash(request.cookies.get(FLASH_COOKIE))
    html = ENV.get_template(template).render(
        request=request,
        viewer=viewer,
        approvals_count=_approvals_count(request) if viewer else 0,
        who=viewer.principal if viewer else None,
        csrf=viewer.session.csrf if viewer else "",
        can_respond=viewer.can_respond if viewer else False,
        flash=flash,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def fragment(template: str, **context: Any) -> HTMLResponse:
    html = ENV.get_template(template).render(**context)
    return HTMLResponse(html, headers=SECURITY_HEADERS)


def redirect(
    request: Request, url: str, message: str | None = None, kind: str = "ok"
) -> RedirectResponse:
    """Post/redirect/get, with a one-shot message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE,
            codec_of(request).flash(message, kind),
            max_age=FLASH_MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response
