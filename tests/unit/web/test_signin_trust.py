"""Console sessions end when signed out, and guessing tokens is slowed and logged (issue 25)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role
from defib.bootstrap import Runtime
from defib.web.session import COOKIE
from tests.support.web import SignIn, csrf_of


def test_a_signed_out_cookie_stops_working(
    sign_in: SignIn, runtime: Runtime, client: TestClient
) -> None:
    """A copy of the session cookie taken before sign-out is refused after it, also by
    another replica (the sign-out is in the database)."""
    signed_in = sign_in(Role.RESPONDER)
    page = signed_in.get("/")
    assert page.status_code == 200
    stolen = signed_in.cookies.get(COOKIE)
    assert signed_in.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with TestClient(create_app(runtime), follow_redirects=False) as replica:
        for c in (client, replica):
            c.cookies.set(COOKIE, stolen)
            refused = c.get("/")
            assert refused.status_code == 303 and "/login" in refused.headers["location"]


def test_failed_sign_ins_are_logged_and_throttled(client: TestClient, runtime: Runtime) -> None:
    """Ten wrong tokens from one address, then 429 even for a right one; each failure is an
    audit event naming the address, never the token."""
    for _ in range(10):
        form = client.get("/login")
        wrong = {"token": "defib_guess-123456", "csrf": csrf_of(form.text), "next": "/"}
        assert client.post("/login", data=wrong).status_code == 401
    form = client.get("/login")
    throttled = client.post("/login", data={**wrong, "csrf": csrf_of(form.text)})
    assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text
    failures = runtime.silences.audit(kind="console_signin_failed", limit=100)
    assert len(failures) == 10 and failures[0].subject == "testclient"
    assert all("guess-123456" not in str(e.data) for e in failures)
