"""The on-call API on both databases: who is on call, overrides, shifts, the iCal feed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.store import tokens as token_repo
from tests.support.actions.peers import HttpPeer
from tests.support.oncall import oncall_config

Make = Callable[..., Runtime]


def make_token(rt: Runtime, role: Role) -> str:
    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name=f"{role.value}-cal", role=role, token=token, created_by="t", now=utcnow()
        )
    return token


@pytest.fixture
def rt(make_runtime: Make, http_peer: HttpPeer) -> Runtime:
    return make_runtime(**oncall_config(http_peer))


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as c:
        c.headers["Authorization"] = f"Bearer {make_token(rt, Role.RESPONDER)}"
        yield c


def test_who_is_on_call_at_a_time_follows_local_handoffs(client: TestClient) -> None:
    """?schedule=&at= answers the person of the weekly rotation, changing Monday 09:00 Berlin."""
    before = client.get(
        "/api/v1/oncall", params={"schedule": "ml-primary", "at": "2026-03-30T06:59:00Z"}
    )
    after = client.get(
        "/api/v1/oncall", params={"schedule": "ml-primary", "at": "2026-03-30T07:00:00Z"}
    )
    assert before.status_code == 200, before.text
    (b,), (a,) = before.json()["items"], after.json()["items"]
    assert {b["person"], a["person"]} == {"alice", "bob"}
    assert a["shift_start"].startswith("2026-03-30T07:00:00")
    assert a["source"] == "rotation 1"


def test_unknown_schedule_and_naive_time_are_clear_errors(client: TestClient) -> None:
    """An unknown schedule is 404 naming the known ones; a time without a zone is 422."""
    missing = client.get("/api/v1/oncall", params={"schedule": "nope"})
    assert missing.status_code == 404
    assert "ml-primary" in missing.json()["error"]["message"]
    naive = client.get("/api/v1/oncall", params={"at": "2026-03-30T07:00:00"})
    assert naive.status_code == 422
    assert naive.json()["error"]["message"].startswith("at:")


def test_override_made_over_the_api_wins_and_is_listed(client: TestClient) -> None:
    """POST an override for carol: GET /oncall names carol (source override), the list shows it."""
    now = datetime.now(UTC)
    body = {
        "schedule": "ml-primary",
        "person": "carol",
        "start": (now - timedelta(minutes=5)).isoformat(),
        "end": (now + timedelta(hours=2)).isoformat(),
        "comment": "swap for the conference",
    }
    made = client.post("/api/v1/oncall/overrides", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "responder-cal"
    (now_on,) = client.get("/api/v1/oncall").json()["items"]
    assert now_on["person"] == "carol" and now_on["source"] == f"override {made.json()['id']}"
    listed = client.get("/api/v1/oncall/overrides").json()["items"]
    assert [o["id"] for o in listed] == [made.json()["id"]]
    gone = client.delete(f"/api/v1/oncall/overrides/{made.json()['id']}")
    assert gone.status_code == 204
    assert client.get("/api/v1/oncall").json()["items"][0]["person"] in ("alice", "bob")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"person": "mallory"}, "person: 'mallory' is not in people:"),
        ({"schedule": "nope"}, "schedule 'nope' is not configured"),
        ({"end": "2020-01-01T00:00:00Z", "start": "2019-12-31T00:00:00Z"}, "end: the override"),
        ({"start": "2026-12-24T18:00:00"}, "start, end: give a time zone"),
    ],
)
def test_bad_overrides_are_refused_with_the_key(
    client: TestClient, change: dict[str, str], message: str
) -> None:
    """Each bad override answers a 4xx whose JSON message names what is wrong; nothing stored."""
    now = datetime.now(UTC)
    body = {
        "schedule": "ml-primary",
        "person": "carol",
        "start": now.isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
        **change,
    }
    answer = client.post("/api/v1/oncall/overrides", json=body)
    assert answer.status_code in (404, 422), answer.text
    assert message in answer.json()["error"]["message"]
    assert client.get("/api/v1/oncall/overrides").json()["items"] == []


def test_a_viewer_may_not_make_overrides(client: TestClient, rt: Runtime) -> None:
    """Overrides change who is paged: a viewer token gets 403."""
    client.headers["Authorization"] = f"Bearer {make_token(rt, Role.VIEWER)}"
    now = datetime.now(UTC)
    body = {
        "schedule": "ml-primary",
        "person": "carol",
        "start": now.isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    assert client.post("/api/v1/oncall/overrides", json=body).status_code == 403


def test_shifts_list_the_coming_rotation(client: TestClient) -> None:
    """/shifts from a Monday gives one shift per week, alternating."""
    got = client.get(
        "/api/v1/oncall/ml-primary/shifts",
        params={"from": "2026-03-30T07:00:00Z", "until": "2026-04-27T07:00:00Z"},
    )
    assert got.status_code == 200, got.text
    people = [s["person"] for s in got.json()["items"]]
    assert len(people) == 4 and people[0] != people[1] and people[0] == people[2]


def test_ical_feed_takes_a_reader_token_in_the_url(client: TestClient, rt: Runtime) -> None:
    """Calendar apps send no header: ?token= with a reader token works, a bad one is 401."""
    bare = TestClient(client.app)
    ok = bare.get("/api/v1/oncall/ml-primary.ics", params={"token": make_token(rt, Role.VIEWER)})
    assert ok.status_code == 200, ok.text
    assert ok.headers["content-type"].startswith("text/calendar")
    assert ok.text.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in ok.text
    refused = bare.get("/api/v1/oncall/ml-primary.ics", params={"token": "defib_nope"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert bare.get("/api/v1/oncall/ml-primary.ics").status_code == 401
