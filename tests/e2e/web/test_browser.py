"""The console in a real browser: Playwright drives Debian's chromium against `defib serve`.

One server and one browser for the module. Playwright never downloads a browser here: it
launches /usr/bin/chromium (installed by `make test`). With DEFIB_UPDATE_SCREENSHOTS=1 the
tests also refresh the screenshots in docs/img (commit them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from defib.auth import Role, generate_token
from defib.clock import utcnow
from defib.store import tokens as token_repo
from defib.store.database import Database
from defib.testing import ServerProcess

pytestmark = pytest.mark.slow

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("DEFIB_UPDATE_SCREENSHOTS") == "1"
DOCS_IMG = (Path(__file__).parents[2] / "web/test_browser.py").resolve().parents[2] / "docs" / "img"
TIMEOUT_MS = 30_000  # generous: CI machines may be busy

CONFIG = """\
systems:
  - name: chat-api
    tier: 1
    description: Customer support chat
    versions:
      - {name: v41, upstream: "http://127.0.0.1:9/v1"}
      - {name: v42, upstream: "http://127.0.0.1:9/v1"}
    active_version: v42
  - name: search-rag
    tier: 2
"""


class Console:
    def __init__(self, server: ServerProcess, tokens: dict[Role, str]) -> None:
        self.server = server
        self.tokens = tokens

    def alert(self, **fields: object) -> dict[str, object]:
        response = httpx.post(
            f"{self.server.url}/api/v1/alerts",
            json={"source": "guardrails", **fields},
            headers={"Authorization": f"Bearer {self.tokens[Role.ADMIN]}"},
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, object] = response.json()["results"][0]
        return result

    def api(self, path: str) -> dict[str, object]:
        response = httpx.get(
            f"{self.server.url}{path}",
            headers={"Authorization": f"Bearer {self.tokens[Role.ADMIN]}"},
            timeout=10,
        )
        response.raise_for_status()
        data: dict[str, object] = response.json()
        return data


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console")
    (workdir / "defib.yaml").write_text(CONFIG)
    server = ServerProcess(
        workdir,
        env={"DEFIB_CONFIG": str(workdir / "defib.yaml"), "DEFIB_DATA_DIR": str(workdir / "data")},
    ).start(timeout=90)
    db = Database(f"sqlite:///{workdir / 'data' / 'defib.db'}")
    tokens: dict[Role, str] = {}
    with db.write() as conn:
        for role in Role:
            tokens[role] = generate_token()
            token_repo.create_token(
                conn,
                name=f"{role.value}-ann",
                role=role,
                token=tokens[role],
                created_by="test",
                now=utcnow(),
            )
    db.dispose()
    try:
        yield Console(server, tokens)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make test installs Debian's package)")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-extensions",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, timezone_id="Europe/Paris"
    )
    context.set_default_timeout(TIMEOUT_MS)
    p = context.new_page()
    yield p
    context.close()


def sign_in(page: Page, console: Console, role: Role) -> None:
    page.goto(f"{console.server.url}/")
    expect(page).to_have_url(f"{console.server.url}/login?next=%2F")
    page.get_by_label("Token").fill(console.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()


def test_anonymous_browser_sees_only_the_sign_in(page: Page, console: Console) -> None:
    console.alert(type="bias", title="Loan model bias", systems=["search-rag"], dedup_key="anon")
    for path in ("/", "/incidents/INC-1", "/systems", "/approvals", "/alerts"):
        page.goto(f"{console.server.url}{path}")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert "Loan model bias" not in page.content()


def test_a_responder_works_an_incident_end_to_end(page: Page, console: Console) -> None:
    sign_in(page, console, Role.RESPONDER)
    # A new incident appears without a reload.
    opened = console.alert(
        type="toxicity",
        title="Toxic replies from chat-api",
        description="14 abusive responses blocked in 10 minutes",
        systems=["chat-api"],
        severity="high",
        dedup_key="browser-toxic",
    )
    iid = str(opened["incident_id"])
    link = page.get_by_role("link", name=iid, exact=True)
    expect(link).to_be_visible()
    if SCREENSHOTS:
        for n, (kind, title, system, severity) in enumerate(
            [
                ("data_leak", "PII in answers of search-rag", "search-rag", "critical"),
                ("performance", "p95 latency over 4 s", "search-rag", "low"),
                ("hallucination", "Made-up refund policy", "search-rag", "high"),
            ]
        ):
            console.alert(
                type=kind, title=title, systems=[system], severity=severity, dedup_key=f"s{n}"
            )
        page.reload()
        expect(page.get_by_text("Made-up refund policy")).to_be_visible()
        page.screenshot(path=str(DOCS_IMG / "console-incidents.png"), full_page=True)

    link.click()
    expect(page.get_by_role("heading", name=f"{iid} Toxic replies from chat-api")).to_be_visible()
    times = page.locator("time[data-local]").first
    assert "UTC" in (times.get_attribute("title") or "")

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledge done")
    expect(page.locator("#incident-head .badges .status")).to_have_text("acknowledged")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    # The toxicity playbook waits for a responder to sign off the guardrail review.
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_visible()
    expect(page.locator(".asks-card").get_by_text("Approving lets it:")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=str(DOCS_IMG / "console-incident.png"), full_page=True)
    page.get_by_label("Decision note").fill("checklist done with the guardrails team")
    approve.click()
    expect(page.get_by_role("status")).to_contain_text("review_guardrails approved")
    expect(page.get_by_text("Decision: approve by responder-ann")).to_be_visible()
    timeline = page.locator("#incident-main .events")
    expect(timeline).to_contain_text("Approved review_guardrails: checklist done")

    # The kill switch and back, each behind a confirmation.
    page.get_by_role("link", name="Systems").click()
    card = page.locator("#system-chat-api")
    card.get_by_role("link", name="Disable").click()
    expect(page.get_by_role("heading", name="Confirm: disable chat-api")).to_be_visible()
    page.get_by_label("On behalf of incident").fill(iid)
    page.get_by_label("Reason").fill("browser test")
    page.get_by_role("button", name="Confirm disable").click()
    expect(card.locator(".state")).to_have_text("disabled")
    expect(card).to_contain_text(f"{iid}: browser test")
    state = console.api("/api/v1/systems/chat-api")["state"]
    assert isinstance(state, dict) and state["disabled"] is True
    card.get_by_role("link", name="Enable").click()
    page.get_by_role("button", name="Confirm enable").click()
    expect(card.locator(".state")).to_have_text("enabled")
    state = console.api("/api/v1/systems/chat-api")["state"]
    assert isinstance(state, dict) and state["disabled"] is False

    page.get_by_role("link", name="Alerts").click()
    expect(page.locator("#alerts")).to_contain_text("Toxic replies from chat-api")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto(f"{console.server.url}/incidents/{iid}")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_viewer_sees_but_may_not_act(page: Page, console: Console) -> None:
    opened = console.alert(
        type="hallucination", title="Invented citations", systems=["search-rag"], dedup_key="v"
    )
    iid = str(opened["incident_id"])
    sign_in(page, console, Role.VIEWER)
    page.get_by_role("link", name=iid, exact=True).click()
    expect(page.get_by_role("heading", name=f"{iid} Invented citations")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.get_by_role("button", name="Add note")).to_have_count(0)
    # Forging the form anyway (the session's own CSRF token) is refused by the server.
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    response = page.request.post(
        f"{console.server.url}/incidents/{iid}/transition",
        form={"csrf": csrf or "", "command": "acknowledge"},
        max_redirects=0,
    )
    assert response.status == 403
    status = console.api(f"/api/v1/incidents/{iid}")["status"]
    assert status == "detected"
    page.goto(f"{console.server.url}/systems")
    expect(page.locator("#system-chat-api")).to_be_visible()
    expect(page.get_by_role("link", name="Disable")).to_have_count(0)
