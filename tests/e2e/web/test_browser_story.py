"""The responder's story in a real browser (Playwright on Debian's chromium, `defib serve`):
the incident header after a real data-leak playbook run, the list's urgency order, the
silences page, and the incident page at a phone's 375 px.

With DEFIB_UPDATE_SCREENSHOTS=1 the tests refresh docs/img/console-story*.png,
console-urgency.png, console-silences.png and console-phone.png (look at them, commit them).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from defib.auth import Role, generate_token
from defib.clock import utcnow
from defib.store import tokens as token_repo
from defib.store.database import Database
from defib.testing import ServerProcess
from tests.e2e.web.test_browser import CHROMIUM, DOCS_IMG, SCREENSHOTS, TIMEOUT_MS, Console, sign_in

pytestmark = pytest.mark.slow

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

# chat-api serves v42 and v41 is known good: the data-leak playbook disables it, rolls it
# back and (no probe, no captured sample) cannot verify it, so a person is asked.
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
# ISO-8601, 24-hour, in the browser's zone (Europe/Paris: CET or GMT+1).
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d (CET|CEST|GMT\+\d+)$")
LOCAL_CLOCK = re.compile(r"^[0-2]\d:[0-5]\d:[0-5]\d (CET|CEST|GMT\+\d+)$")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("story")
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
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


def _page(browser: Browser, width: int, height: int) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": width, "height": height}, timezone_id="Europe/Paris", locale="en-US"
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, 1280, 900)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, 375, 800)


def _post(console: Console, path: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(
        f"{console.server.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {console.tokens[Role.ADMIN]}"},
        timeout=10,
    )
    response.raise_for_status()
    data: dict[str, object] = response.json()
    return data


@pytest.fixture(scope="module")
def leak(console: Console) -> str:
    """A data leak whose playbook ran as far as it can alone (rolled back, unverified,
    waiting for a person to approve telling the affected users)."""
    _post(console, "/api/v1/systems/chat-api/versions/v41", {"status": "good"})
    opened = console.alert(
        type="data_leak",
        title="chat-api shows other customers' e-mail addresses",
        description="Guardrail: 12 e-mail addresses in answers of chat-api v42",
        systems=["chat-api"],
        severity="critical",
        dedup_key="story-leak",
    )
    iid = str(opened["incident_id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = console.api(f"/api/v1/incidents/{iid}/runs")["items"]
        assert isinstance(runs, list)
        if runs and all(r["status"] not in ("pending", "running") for r in runs):
            return iid
        time.sleep(0.5)
    raise AssertionError(f"{iid}: the playbook did not reach a person within 60 s")


def test_the_header_answers_what_burns_what_defib_did_and_what_waits(
    page: Page, console: Console, leak: str
) -> None:
    sign_in(page, console, Role.RESPONDER)
    page.goto(f"{console.server.url}/incidents/{leak}")
    head = page.locator("#incident-head")
    burning = head.locator(".burning")
    expect(burning).to_contain_text("data leak")
    expect(burning).to_contain_text("chat-api")
    expect(burning.locator(".alert-summary")).to_contain_text("12 e-mail addresses")
    did = head.locator(".did")
    expect(did).to_contain_text("Disabled chat-api (kill switch on)")
    expect(did).to_contain_text("Rolled chat-api back from v42 to v41")
    expect(did).to_contain_text("Preserved 3 evidence items")
    expect(did).to_contain_text("verify_endpoint ended unverified")
    asks = head.locator(".asks-card")
    expect(asks).to_contain_text("Acknowledge it: nobody has yet")
    expect(asks).to_contain_text("Approve or reject notify_affected_users")
    expect(asks).to_contain_text("verify_endpoint is unverified")
    expect(asks.get_by_role("button", name="Approve")).to_be_visible()
    expect(asks.get_by_role("button", name="I checked: Mitigate")).to_be_visible()
    # Times read ISO-8601, 24-hour, in the viewer's zone, with UTC on hover.
    detected = page.locator("#incident-head .facts time[data-local]").first
    assert LOCAL_TIME.match(detected.inner_text()), detected.inner_text()
    assert (detected.get_attribute("title") or "").endswith("UTC")
    clock = head.locator(".did time[data-local]").first
    assert LOCAL_CLOCK.match(clock.inner_text()), clock.inner_text()
    # Alert details are one click away.
    details = head.locator(".alert-details")
    expect(details.locator(".alert-one")).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator(".alert-one").first).to_be_visible()
    expect(details).to_contain_text("firing")
    if SCREENSHOTS:
        page.screenshot(path=str(DOCS_IMG / "console-story.png"), full_page=False)
    # Acknowledging from the ask removes it; the approval is decided in the same place.
    asks.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledge done")
    expect(page.locator(".asks-card")).not_to_contain_text("Acknowledge it")
    page.locator(".asks-card").get_by_label("Decision note").fill("legal agrees")
    page.locator(".asks-card").get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("notify_affected_users approved")
    timeline = page.locator("#incident-main .events")
    expect(timeline).to_contain_text("Approved notify_affected_users: legal agrees")
    expect(timeline).not_to_contain_text("run:")


def test_the_list_puts_the_unacknowledged_sev1_first_and_marks_what_waits(
    page: Page, console: Console, leak: str
) -> None:
    for n, (severity, title) in enumerate([("low", "slow answers"), ("high", "made-up policy")]):
        console.alert(
            type="hallucination" if n else "performance",
            title=title,
            systems=["search-rag"],
            severity=severity,
            dedup_key=f"urgency-{n}",
        )
    sev1 = console.alert(
        type="toxicity",
        title="slurs in replies",
        systems=["search-rag"],
        severity="critical",
        dedup_key="urgency-sev1",
    )
    sign_in(page, console, Role.VIEWER)
    rows = page.locator("table.incidents tbody tr")
    expect(rows.first).to_contain_text(str(sev1["incident_id"]))
    expect(rows.first).to_contain_text("waiting for you")
    expect(page.get_by_role("link", name=re.compile(r"^Approvals"))).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=str(DOCS_IMG / "console-urgency.png"), full_page=True)


def test_the_silences_page_adds_shows_what_it_mutes_and_expires(
    page: Page, console: Console, leak: str
) -> None:
    sign_in(page, console, Role.RESPONDER)
    page.get_by_role("link", name="Silences").click()
    expect(page.get_by_role("heading", name="Silences", exact=True)).to_be_visible()
    page.get_by_label("Matchers, one per line").fill('system="chat-api"\ntype="data_leak"')
    page.get_by_label("For", exact=True).select_option("4")
    page.get_by_label("Why").fill("CHG-1234: retraining v43")
    page.get_by_role("button", name="Add silence").click()
    expect(page.get_by_role("status")).to_contain_text("added")
    row = page.locator("table.silences tbody tr").first
    expect(row).to_contain_text('system="chat-api"')
    expect(row).to_contain_text("CHG-1234")
    expect(row.get_by_role("link", name=leak)).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=str(DOCS_IMG / "console-silences.png"), full_page=True)
    row.get_by_role("button", name="Expire").click()
    expect(page.get_by_role("status")).to_contain_text("expired")
    expect(page.locator("table.silences")).to_have_count(0)


def test_the_incident_page_fits_a_phone(phone: Page, console: Console, leak: str) -> None:
    sign_in(phone, console, Role.RESPONDER)
    phone.goto(f"{console.server.url}/incidents/{leak}")
    expect(phone.locator("#incident-head .did")).to_contain_text("Rolled chat-api back")
    overflow = phone.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow} px wider than the phone"
    select = phone.locator("select[name=severity]")
    box = select.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375
    if SCREENSHOTS:
        phone.screenshot(path=str(DOCS_IMG / "console-phone.png"), full_page=False)
