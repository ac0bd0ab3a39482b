"""The systems API: read state and versions, change the kill switch, routing and filters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.systems.control import STATE_CHANGED
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer
from tests.support.engine import declare

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], http_peer: HttpPeer) -> Runtime:
    config = systems_config(http_peer, None)
    config["systems"][0]["versions"] = [{"name": "v1"}, {"name": "v2"}]
    config["systems"].append(
        {"name": "ext", "control": {"kind": "http", "url": f"{http_peer.url}/ctl"}}
    )
    return make_runtime(**config)


@pytest.fixture
def api(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt, auth=False)) as c:
        yield c


def test_read_state_and_versions(api: TestClient) -> None:
    listed = api.get("/api/v1/systems").json()["items"]
    assert [(s["name"], s["state"]["active_version"]) for s in listed] == [
        ("chat-api", "v2"),
        ("ext", None),
    ]
    one = api.get("/api/v1/systems/chat-api").json()
    assert [v["name"] for v in one["versions"]] == ["v1", "v2"]
    assert "XXXX" not in str(one["config"])  # webhook paths are secrets
    missing = api.get("/api/v1/systems/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def test_put_state_owned_by_an_incident(api: TestClient, rt: Runtime) -> None:
    inc = declare(rt, IncidentType.DATA_LEAK)
    r = api.put("/api/v1/systems/chat-api/state", json={"disabled": True, "incident": inc})
    assert r.status_code == 200 and r.json()["changed"] is True
    assert r.json()["state"]["disabled_by"] == rt.incidents.get(inc).seq
    again = api.put("/api/v1/systems/chat-api/state", json={"disabled": True, "incident": inc})
    assert again.json()["changed"] is False
    routed = api.put("/api/v1/systems/chat-api/state", json={"active_version": "v1"})
    assert routed.json()["state"]["active_version"] == "v1"
    filters = [{"kind": "detector", "detector": "pii"}, {"kind": "pattern", "pattern": "x+"}]
    body: dict[str, Any] = {"filters": filters, "incident": inc}
    put = api.put("/api/v1/systems/chat-api/state", json=body).json()
    assert [f["incident_seq"] for f in put["state"]["filters"]] == [rt.incidents.get(inc).seq] * 2
    cleared = api.put("/api/v1/systems/chat-api/state", json={"clear_filters_of": inc}).json()
    assert cleared["state"]["filters"] == []
    on = api.put("/api/v1/systems/chat-api/state", json={"disabled": False}).json()
    assert on["state"]["disabled"] is False  # a person without an incident forces
    kinds = [e.kind for e in rt.incidents.timeline(inc)]
    assert kinds.count(STATE_CHANGED) == 3  # the changes that named the incident


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"active_version": "v9"}, 422, "active_version: 'v9' is not a version of chat-api"),
        ({"filters": [{"kind": "pattern", "pattern": "("}]}, 422, "filters[0].pattern:"),
        ({"filters": [{"kind": "detector", "detector": "x"}]}, 422, "filters[0].detector:"),
        ({"disabled": "maybe"}, 422, "disabled:"),
        ({"colour": 1}, 422, "colour:"),
        ({"disabled": True, "incident": "INC-999"}, 404, "INC-999"),
    ],
)
def test_bad_state_changes_name_the_field(
    api: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    r = api.put("/api/v1/systems/chat-api/state", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]


def test_http_controlled_systems_get_the_kill_switch_posted(
    api: TestClient, http_peer: HttpPeer
) -> None:
    r = api.put("/api/v1/systems/ext/state", json={"disabled": True, "reason": "drill"})
    assert r.status_code == 200, r.text
    (post,) = http_peer.at("/ctl")
    assert post.json()["action"] == "disable" and post.json()["reason"] == "drill"
    assert r.json()["control_plane"]["status_code"] == 200
    refused = api.put("/api/v1/systems/ext/state", json={"filters": []})
    assert refused.status_code == 409


def test_mark_versions(api: TestClient) -> None:
    r = api.post("/api/v1/systems/chat-api/versions/v1", json={"status": "good", "note": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "good"
    assert r.json()["marked_by"] == "anonymous"
    assert (
        api.post("/api/v1/systems/chat-api/versions/v7", json={"status": "bad"}).status_code == 404
    )
    bad = api.post("/api/v1/systems/chat-api/versions/v1", json={"status": "meh"})
    assert bad.status_code == 422 and "status" in bad.json()["error"]["message"]
