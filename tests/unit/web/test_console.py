"""The console over HTTP (TestClient, both backends): sessions, CSRF, roles, pages."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.config import load_settings
from defib.incidents.lifecycle import IncidentDraft
from defib.model import Command, IncidentType, Severity, Status
from defib.store import tokens as token_repo
from defib.web.incidents import ListQuery, load_list
from defib.web.secret import session_secret
from defib.web.session import COOKIE, SessionCodec
from tests.support.web import SignIn, csrf_of


def _declare(runtime: Runtime, title: str, severity: Severity = Severity.SEV2) -> str:
    draft = IncidentDraft(
        type=IncidentType.TOXICITY, severity=severity, title=title, affected_systems=["chat-api"]
    )
    return runtime.incidents.declare(draft, actor="test").id


def test_anonymous_sees_no_incident_data(client: TestClient, runtime: Runtime) -> None:
    _declare(runtime, "Secret incident title")
    for path in ("/", "/incidents/INC-1", "/fragments/incidents"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
        assert "Secret incident" not in response.text
    poll = client.get("/incidents/INC-1/fragments/main", headers={"HX-Request": "true"})
    assert poll.status_code == 401
    assert poll.headers["HX-Redirect"].startswith("/login")
    refused = client.post("/incidents/INC-1/transition", data={"command": "acknowledge"})
    assert refused.status_code == 303
    assert runtime.incidents.get("INC-1").status is Status.DETECTED


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(
    client: TestClient, tokens: dict[Role, str], runtime: Runtime
) -> None:
    _declare(runtime, "Toxic replies from chat-api")
    form = client.get("/login")
    assert 'for="token">Token<' in form.text and ">Sign in<" in form.text
    wrong = client.post("/login", data={"token": "defib_nope", "csrf": csrf_of(form.text)})
    assert wrong.status_code == 401
    assert COOKIE not in wrong.cookies

    form = client.get("/login")
    ok = client.post(
        "/login",
        data={"token": tokens[Role.VIEWER], "csrf": csrf_of(form.text), "next": "/incidents/INC-1"},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/incidents/INC-1"
    cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith(COOKIE))
    attrs = cookie.lower()
    assert "httponly" in attrs and "samesite=lax" in attrs and "max-age=43200" in attrs
    assert "secure" not in attrs  # plain http here; see the https test
    assert tokens[Role.VIEWER] not in cookie  # the cookie names the token by hash only

    listing = client.get("/")
    assert listing.status_code == 200
    assert "Toxic replies from chat-api" in listing.text and "INC-1" in listing.text
    assert "content-security-policy" in listing.headers

    no_csrf = client.post("/logout", data={})
    assert no_csrf.status_code == 403
    out = client.post("/logout", data={"csrf": csrf_of(listing.text)})
    assert out.status_code == 303
    assert client.get("/").status_code == 303


def test_sign_in_form_needs_its_nonce_and_next_stays_local(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    forged = client.post("/login", data={"token": tokens[Role.ADMIN], "csrf": "guess"})
    assert forged.status_code == 403
    form = client.get("/login")
    ok = client.post(
        "/login",
        data={"token": tokens[Role.ADMIN], "csrf": csrf_of(form.text), "next": "//evil.example/"},
    )
    assert ok.headers["location"] == "/"


def test_ingest_tokens_cannot_sign_in(client: TestClient, tokens: dict[Role, str]) -> None:
    form = client.get("/login")
    response = client.post(
        "/login", data={"token": tokens[Role.INGEST], "csrf": csrf_of(form.text)}
    )
    assert response.status_code == 403
    assert "may not read" in response.text


def test_cookie_is_secure_over_https(runtime: Runtime, tokens: dict[Role, str]) -> None:
    with TestClient(
        create_app(runtime), base_url="https://testserver", follow_redirects=False
    ) as c:
        form = c.get("/login")
        ok = c.post("/login", data={"token": tokens[Role.ADMIN], "csrf": csrf_of(form.text)})
        cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith(COOKIE))
        assert "secure" in cookie.lower()


def test_viewer_sees_no_buttons_and_the_server_refuses_anyway(
    sign_in: SignIn, runtime: Runtime
) -> None:
    iid = _declare(runtime, "Look only")
    client = sign_in(Role.VIEWER)
    page = client.get(f"/incidents/{iid}")
    assert page.status_code == 200
    assert ">Acknowledge<" not in page.text and "Add note" not in page.text
    csrf = csrf_of(client.get("/").text)  # the sign-out form carries it
    refused = client.post(
        f"/incidents/{iid}/transition", data={"csrf": csrf, "command": "acknowledge"}
    )
    assert refused.status_code == 403
    assert "viewer" in refused.text
    assert (
        client.post(f"/incidents/{iid}/notes", data={"csrf": csrf, "text": "x"}).status_code == 403
    )
    assert runtime.incidents.get(iid).status is Status.DETECTED
    assert [e.kind for e in runtime.incidents.timeline(iid)] == ["created", "run_planned"]


def test_responder_acts_with_csrf_only(sign_in: SignIn, runtime: Runtime) -> None:
    iid = _declare(runtime, "Act on it", Severity.SEV3)
    client = sign_in(Role.RESPONDER)
    page = client.get(f"/incidents/{iid}")
    for label in ("Acknowledge", "Mitigate", "Resolve", "Close"):
        assert f">{label}<" in page.text
    assert ">Reopen<" not in page.text
    csrf = csrf_of(page.text)

    forged = client.post(
        f"/incidents/{iid}/transition", data={"csrf": "x", "command": "acknowledge"}
    )
    assert forged.status_code == 403
    assert runtime.incidents.get(iid).status is Status.DETECTED

    done = client.post(
        f"/incidents/{iid}/transition", data={"csrf": csrf, "command": "acknowledge"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"/incidents/{iid}"
    client.post(f"/incidents/{iid}/patch", data={"csrf": csrf, "severity": "SEV1"})
    client.post(f"/incidents/{iid}/patch", data={"csrf": csrf, "commander": "ana"})
    client.post(f"/incidents/{iid}/notes", data={"csrf": csrf, "text": "rolling back"})
    incident = runtime.incidents.get(iid)
    assert (incident.status, incident.severity, incident.commander) == (
        Status.ACKNOWLEDGED,
        Severity.SEV1,
        "ana",
    )
    events = {e.kind: e.actor for e in runtime.incidents.timeline(iid)}
    assert events["transition"] == events["note"] == "responder-bot"

    again = client.post(
        f"/incidents/{iid}/transition", data={"csrf": csrf, "command": "acknowledge"}
    )
    shown = client.get(again.headers["location"])
    assert "already acknowledged" in shown.text  # the refusal is said on the page

    body = client.get(f"/incidents/{iid}/fragments/main")
    assert "rolling back" in body.text and 'id="incident-main"' in body.text


def test_revoking_the_token_ends_the_session(sign_in: SignIn, runtime: Runtime) -> None:
    client = sign_in(Role.RESPONDER)
    assert client.get("/").status_code == 200
    with runtime.db.write() as conn:
        token_repo.revoke_token(conn, "responder-bot", utcnow())
    assert client.get("/").status_code == 303


def test_a_tampered_cookie_is_no_session(client: TestClient, sign_in: SignIn) -> None:
    sign_in(Role.ADMIN)
    value = client.cookies[COOKIE]
    client.cookies.clear()
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/").status_code == 303
    other = SessionCodec("another-secret-of-enough-length-0123456789")
    _, forged = other.new_session("0" * 64)
    client.cookies.clear()
    client.cookies.set(COOKIE, forged)
    assert client.get("/").status_code == 303


def test_unknown_incident_is_a_404_page(sign_in: SignIn) -> None:
    client = sign_in(Role.VIEWER)
    stale = client.get("/?cursor=bm9wZQ")
    assert stale.status_code == 303 and stale.headers["location"] == "/"
    response = client.get("/incidents/INC-999")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]


def test_list_open_first_by_urgency_then_the_rest_newest_first_across_pages(
    runtime: Runtime,
) -> None:
    """Every open incident on the first page (unacknowledged SEV1s first, oldest first),
    then the closed ones page by page, newest first."""
    ids = [_declare(runtime, f"i{n}", Severity.SEV3 if n % 2 else Severity.SEV1) for n in range(5)]
    runtime.incidents.apply(ids[4], Command.RESOLVE, "t")
    runtime.incidents.apply(ids[1], Command.RESOLVE, "t")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = load_list(runtime, ListQuery([], [], [], None, cursor), limit=2)
        seen += [i.id for i in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [ids[0], ids[2], ids[3], ids[4], ids[1]]
    assert page.counts[Severity.SEV1] == 2 and page.counts[Severity.SEV3] == 1
    only = load_list(runtime, ListQuery([Status.RESOLVED], [], [], "chat-api", None))
    assert [i.id for i in only.items] == [ids[4], ids[1]]


def test_session_secret_is_generated_once_private(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "d")
    first = session_secret(settings)
    assert session_secret(settings) == first and len(first) >= 32
    assert stat.S_IMODE(os.stat(settings.session_secret_path).st_mode) == 0o600
    configured = load_settings(None, data_dir=tmp_path / "d", session_secret="x" * 40)
    assert session_secret(configured) == "x" * 40


def test_system_filter_matches_exact_names_only(runtime: Runtime) -> None:
    """The SQL pre-filter is a LIKE: `_` and `%` in a name must not match other names."""
    draft = IncidentDraft(type=IncidentType.BIAS, severity=Severity.SEV3, title="t")
    for systems in (["chat_api"], ["chatXapi"], ["chat-api-2"], ["a%b"], ["ünï"]):
        runtime.incidents.declare(
            IncidentDraft(
                type=draft.type,
                severity=draft.severity,
                title=str(systems),
                affected_systems=systems,
            ),
            actor="t",
        )
    for name, title in (("chat_api", "['chat_api']"), ("a%b", "['a%b']"), ("ünï", "['ünï']")):
        page = load_list(runtime, ListQuery([], [], [], name, None))
        assert [i.title for i in page.items] == [title]
    assert load_list(runtime, ListQuery([], [], [], "chat", None)).items == []


def test_assets_are_served_by_defib_with_their_versions_recorded(client: TestClient) -> None:
    from defib.web.render import STATIC_DIR

    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:200]
    versions = (STATIC_DIR / "VERSIONS.md").read_text()
    assert "htmx.min.js" in versions and "2.0.11" in versions and "Zero-Clause BSD" in versions
    assert (STATIC_DIR / "htmx.LICENSE").exists()
    head = client.get("/login").text.split("<body")[0]
    assert "http" not in head  # every script and style comes from defib itself


def test_responder_answers_a_triage_incident_from_its_page(
    sign_in: SignIn, runtime: Runtime
) -> None:
    """A needs-triage incident says so; the retype form goes through the service."""
    [result] = runtime.intake.ingest(
        {
            "source": "support-desk",
            "title": "Support bot behaving oddly",
            "description": "Several customers say the bot replies contain strange content.",
            "systems": ["support-bot"],
            "severity": "warning",
        },
        None,
        "monitor",
    )
    iid = result.incident_id or ""
    viewer = sign_in(Role.VIEWER)
    looked = viewer.get(f"/incidents/{iid}")
    assert "needs triage" in looked.text and "Confirm or retype" not in looked.text
    client = sign_in(Role.RESPONDER)
    page = client.get(f"/incidents/{iid}")
    assert ">Confirm or retype<" in page.text
    csrf = csrf_of(page.text)
    bad = client.post(f"/incidents/{iid}/retype", data={"csrf": csrf, "type": "x", "reason": "r"})
    assert "unknown incident type" in client.get(bad.headers["location"]).text
    done = client.post(
        f"/incidents/{iid}/retype",
        data={"csrf": csrf, "type": "hallucination", "reason": "made-up refund rules"},
    )
    assert done.status_code == 303
    incident = runtime.incidents.get(iid)
    assert incident.type is IncidentType.HALLUCINATION and not incident.needs_triage
    [event] = [e for e in runtime.incidents.timeline(iid) if e.kind == "retyped"]
    assert event.actor == "responder-bot" and event.data["reason"] == "made-up refund rules"
