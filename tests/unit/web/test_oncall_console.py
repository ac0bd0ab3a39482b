"""The console's on-call page (both backends): who is on call, the shifts ahead, and the
override form, which goes through the service the API uses (same checks, same errors)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from defib.auth import Role
from defib.bootstrap import Runtime
from defib.web.oncall import parse_time
from tests.support.actions.peers import HttpPeer
from tests.support.oncall import http_peer, oncall_config  # noqa: F401
from tests.support.web import SignIn, csrf_of


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime], http_peer: HttpPeer) -> Runtime:  # noqa: F811
    """The console fixtures' runtime, with people, the ml-primary schedule and a policy."""
    return make_runtime(**oncall_config(http_peer))


def _now_line(html: str) -> str:
    found = re.search(r'<p class="oncall-now">(.*?)</p>', html, re.S)
    assert found, "no 'On call now' line"
    return found.group(1)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def test_the_page_names_who_is_on_call_and_the_shifts_ahead(
    sign_in: SignIn, runtime: Runtime
) -> None:
    (now,) = runtime.oncall.on_call("ml-primary")
    assert now.person in ("alice", "bob")
    page = sign_in(Role.VIEWER).get("/oncall")
    assert page.status_code == 200
    assert 'href="/oncall" aria-current="page"' in page.text
    line = _now_line(page.text)
    assert f'<strong class="oncall-person">{now.person}</strong>' in line
    assert "rotation 1" in line
    # Weekly hand-offs: both people hold a shift in the next 4 weeks.
    shifts = page.text[page.text.index('<table class="shifts">') :].split("</table>")[0]
    assert "<td>alice</td>" in shifts and "<td>bob</td>" in shifts
    assert "Add an override" not in page.text  # a viewer is not offered the form


def test_an_override_posted_through_the_form_wins_and_shows(
    sign_in: SignIn, runtime: Runtime
) -> None:
    client = sign_in(Role.RESPONDER)
    page = client.get("/oncall")
    assert "Add an override" in page.text
    now = datetime.now(UTC)
    posted = client.post(
        "/oncall/overrides",
        data={
            "csrf": csrf_of(page.text),
            "schedule": "ml-primary",
            "person": "carol",
            "start": _iso(now - timedelta(minutes=5)),
            "end": _iso(now + timedelta(hours=2)),
            "comment": "swap for the conference",
        },
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/oncall"
    (override,) = runtime.oncall.overrides("ml-primary")
    assert override.person == "carol" and override.created_by == "responder-bot"
    # The paging path sees it too: carol is the one a page would reach now.
    assert runtime.oncall.person_on_call("ml-primary", datetime.now(UTC)) == "carol"
    shown = client.get("/oncall").text
    assert "Override added: carol holds ml-primary" in shown
    line = _now_line(shown)
    assert '<strong class="oncall-person">carol</strong>' in line
    assert f"override {override.id}" in line
    assert f'id="override-{override.id}"' in shown


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"person": "carol", "start": "+2h", "end": "+1h"}, "end: must be after start"),
        ({"person": "dave", "start": "-5m", "end": "+1h"}, "person: &#39;dave&#39; is not in"),
        ({"person": "carol", "start": "tomorrow", "end": "+1h"}, "start: &#39;tomorrow&#39; is"),
        ({"person": "carol", "start": "-5m", "end": "+100d"}, "at most 90 days"),
    ],
)
def test_a_bad_override_shows_a_clear_error_and_changes_nothing(
    sign_in: SignIn, runtime: Runtime, fields: dict[str, str], error: str
) -> None:
    client = sign_in(Role.RESPONDER)
    page = client.get("/oncall")
    before = _now_line(page.text)
    now = datetime.now(UTC)
    offsets = {"m": "minutes", "h": "hours", "d": "days"}

    def when(text: str) -> str:
        if text[0] not in "+-":
            return text
        delta = timedelta(**{offsets[text[-1]]: int(text[1:-1])})
        return _iso(now + delta if text[0] == "+" else now - delta)

    data = {
        "csrf": csrf_of(page.text),
        "schedule": "ml-primary",
        "person": fields["person"],
        "start": when(fields["start"]),
        "end": when(fields["end"]),
    }
    posted = client.post("/oncall/overrides", data=data)
    assert posted.status_code == 303
    shown = client.get(posted.headers["location"]).text
    assert "flash-error" in shown and "Override not added: " in shown
    assert error in shown
    assert runtime.oncall.overrides() == []
    assert _now_line(shown) == before


def test_a_reader_cannot_add_or_delete_an_override(sign_in: SignIn, runtime: Runtime) -> None:
    now = datetime.now(UTC)
    kept = runtime.oncall.add_override("ml-primary", "carol", now, now + timedelta(hours=1), "dana")
    client = sign_in(Role.VIEWER)
    page = client.get("/oncall")
    assert f'id="override-{kept.id}"' in page.text
    assert f"/oncall/overrides/{kept.id}/delete" not in page.text
    csrf = csrf_of(page.text)  # the sign-out form's: a viewer's session has one too
    refused = client.post(
        "/oncall/overrides",
        data={
            "csrf": csrf,
            "schedule": "ml-primary",
            "person": "bob",
            "start": _iso(now),
            "end": _iso(now + timedelta(hours=1)),
        },
    )
    assert refused.status_code == 403
    assert "may not add an on-call override" in refused.text
    deleted = client.post(f"/oncall/overrides/{kept.id}/delete", data={"csrf": csrf})
    assert deleted.status_code == 403
    assert [o.id for o in runtime.oncall.overrides()] == [kept.id]


def test_a_form_without_the_session_csrf_token_is_refused(
    sign_in: SignIn, runtime: Runtime
) -> None:
    client = sign_in(Role.RESPONDER)
    now = datetime.now(UTC)
    refused = client.post(
        "/oncall/overrides",
        data={
            "csrf": "forged",
            "schedule": "ml-primary",
            "person": "carol",
            "start": _iso(now),
            "end": _iso(now + timedelta(hours=1)),
        },
    )
    assert refused.status_code == 403
    assert runtime.oncall.overrides() == []


def test_a_responder_deletes_an_override_and_the_rotation_decides_again(
    sign_in: SignIn, runtime: Runtime
) -> None:
    now = datetime.now(UTC)
    made = runtime.oncall.add_override(
        "ml-primary", "carol", now - timedelta(minutes=1), now + timedelta(hours=1), "dana"
    )
    client = sign_in(Role.RESPONDER)
    page = client.get("/oncall")
    gone = client.post(f"/oncall/overrides/{made.id}/delete", data={"csrf": csrf_of(page.text)})
    assert gone.status_code == 303
    assert runtime.oncall.overrides() == []
    assert "carol" not in _now_line(client.get("/oncall").text)


def test_times_without_an_offset_mean_utc() -> None:
    assert parse_time("2026-12-24T18:00", "start") == datetime(2026, 12, 24, 18, tzinfo=UTC)
    assert parse_time("2026-12-24 18:00Z", "start") == datetime(2026, 12, 24, 18, tzinfo=UTC)
    at = parse_time("2026-12-24T18:00+01:00", "start")
    assert at.astimezone(UTC) == datetime(2026, 12, 24, 17, tzinfo=UTC)
