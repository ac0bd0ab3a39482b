"""The console answers its error page, never a 500, for NUL and out-of-range input (issue 25)."""

from __future__ import annotations

from defib.auth import Role
from tests.support.web import SignIn, csrf_of


def test_a_nul_in_a_console_path_or_form_is_the_error_page(sign_in: SignIn) -> None:
    """`/incidents/%00` and a `commander` holding NUL: 422 with the console's error page."""
    client = sign_in(Role.RESPONDER)
    for path in (
        "/incidents/%00",
        "/incidents/INC-1%00/fragments/timeline",
        "/systems/%00/confirm",
    ):
        page = client.get(path)
        assert page.status_code == 422, (path, page.text[:200])
        assert "text/html" in page.headers["content-type"] and "NUL" in page.text
    form = client.get("/")
    posted = client.post(
        "/incidents/INC-1/patch", data={"commander": "a\x00b", "csrf": csrf_of(form.text)}
    )
    assert posted.status_code == 422 and "NUL" in posted.text


def test_an_alert_page_cursor_beyond_64_bits_is_ignored(sign_in: SignIn) -> None:
    """`/alerts?before=99999999999999999999999` shows the first page instead of a 500."""
    client = sign_in(Role.VIEWER)
    assert client.get("/alerts", params={"before": "99999999999999999999999"}).status_code == 200
