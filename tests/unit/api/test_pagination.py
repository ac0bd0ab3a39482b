"""The list envelope over HTTP: cursors page without repeats or gaps, and are list-bound."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from defib.api.pagination import encode_cursor, slice_page
from defib.api.schemas import EventOut
from defib.model import InvalidInput

DECLARE = {"type": "toxicity", "severity": "SEV3", "title": "Slurs in replies"}
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def every_page(c: TestClient, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, params = [], {"limit": limit}
    while True:
        r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        if body["next_cursor"] is None:
            return pages
        params["cursor"] = body["next_cursor"]


def test_timeline_pages_follow_cursors_without_repeats(admin: TestClient) -> None:
    """Seven events in pages of three: 3, 3, 1, in id order, each once."""
    inc = admin.post("/api/v1/incidents", json=DECLARE).json()["id"]
    for i in range(6):
        assert admin.post(f"/api/v1/incidents/{inc}/notes", json={"text": f"n{i}"}).is_success
    everything = admin.get(f"/api/v1/incidents/{inc}/timeline").json()["items"]
    pages = every_page(admin, f"/api/v1/incidents/{inc}/timeline", 3)
    flat = [e for page in pages for e in page]
    assert [len(p) for p in pages[:-1]] == [3] * (len(pages) - 1)
    assert [e["id"] for e in flat] == [e["id"] for e in everything]
    assert len(flat) == len({e["id"] for e in flat}) >= 7


def test_incidents_and_systems_lists_page_the_same_way(admin: TestClient) -> None:
    """Every list answers the same envelope, empty lists included."""
    for title in ("a", "b", "c"):
        admin.post("/api/v1/incidents", json={**DECLARE, "title": title})
    pages = every_page(admin, "/api/v1/incidents", 2)
    assert [[i["title"] for i in p] for p in pages] == [["c", "b"], ["a"]]
    assert every_page(admin, "/api/v1/systems", 5) == [[]]
    assert every_page(admin, "/api/v1/incidents/INC-1/runs", 5)[0] is not None
    assert every_page(admin, "/api/v1/incidents/INC-1/evidence", 5) == [[]]


def test_a_cursor_of_another_list_is_refused(admin: TestClient) -> None:
    """A timeline cursor handed to the runs list is a 422 with the error body, not a page."""
    inc = admin.post("/api/v1/incidents", json=DECLARE).json()["id"]
    r = admin.get(f"/api/v1/incidents/{inc}/runs", params={"cursor": encode_cursor("x", 1)})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"
    assert "cursor" in r.json()["error"]["message"]
    bogus = admin.get(f"/api/v1/incidents/{inc}/timeline", params={"cursor": "%%%"})
    assert bogus.status_code == 422


def test_timestamps_are_rfc3339_utc_z(admin: TestClient) -> None:
    """Every instant in an answer ends in Z, whichever model carries it."""
    inc = admin.post("/api/v1/incidents", json=DECLARE).json()
    assert RFC3339_Z.match(inc["detected_at"]), inc["detected_at"]
    event = admin.get(f"/api/v1/incidents/{inc['id']}/timeline").json()["items"][0]
    assert RFC3339_Z.match(event["at"]), event["at"]


def test_slice_page_survives_items_added_in_front() -> None:
    """The cursor names an item, not a position: new items at the front shift nothing."""
    first, cursor = slice_page(["c", "b", "a"], str, "t", 2, None)
    assert first == ["c", "b"] and cursor is not None
    rest, end = slice_page(["e", "d", "c", "b", "a"], str, "t", 2, cursor)
    assert rest == ["a"] and end is None


def test_slice_page_refuses_a_cursor_whose_item_is_gone() -> None:
    _, cursor = slice_page(["c", "b", "a"], str, "t", 1, None)
    with pytest.raises(InvalidInput, match="gone"):
        slice_page(["b", "a"], str, "t", 1, cursor)


def test_event_data_instants_come_out_in_the_one_format() -> None:
    """What an action wrote with isoformat() (`+00:00`) is answered as `Z`."""
    event = EventOut(
        id=1,
        incident_id="INC-1",
        at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        actor="run:x",
        kind="run_step_waiting_approval",
        data={"deadline": "2026-01-02T05:04:05+00:00", "step": "review"},
    )
    out = event.model_dump(mode="json")
    assert out["at"] == "2026-01-02T01:04:05Z"
    assert out["data"] == {"deadline": "2026-01-02T05:04:05Z", "step": "review"}
