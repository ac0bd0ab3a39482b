"""The v2 silences API in process, on both databases: shapes, updates, windows, timelines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.bootstrap import Runtime

Make = Callable[..., Runtime]


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _silence(*matchers: tuple[str, str], hours: float = 2, **extra: Any) -> dict[str, Any]:
    return {
        "matchers": [{"name": n, "value": v, "isRegex": False} for n, v in matchers],
        "startsAt": _iso(timedelta(0)),
        "endsAt": _iso(timedelta(hours=hours)),
        "createdBy": "alice",
        "comment": "rollout",
        **extra,
    }


def _alert(client: TestClient, system: str, key: str, type_: str = "toxicity") -> dict[str, Any]:
    body = {
        "source": "m",
        "type": type_,
        "title": f"{type_} on {system}",
        "systems": [system],
        "severity": "high",
        "dedup_key": key,
    }
    response = client.post("/api/v1/alerts", json=body)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


@pytest.fixture
def client(make_runtime: Make) -> Iterator[TestClient]:
    with TestClient(create_app(make_runtime(), auth=False)) as c:
        yield c


def test_shapes_and_refusals(client: TestClient) -> None:
    """Alertmanager's shapes in and out; a silence matching everything or already over is 422."""
    created = client.post("/api/v2/silences", json=_silence(("system", "a")))
    assert created.status_code == 200, created.text
    sid = created.json()["silenceID"]
    got = client.get(f"/api/v2/silence/{sid}").json()
    assert got["status"] == {"state": "active"}
    assert set(got) >= {"id", "updatedAt", "matchers", "startsAt", "endsAt", "createdBy", "comment"}
    assert client.get("/api/v2/silence/nope").status_code == 404
    assert client.delete("/api/v2/silence/nope").status_code == 404
    everything = _silence(("system", ""))
    assert client.post("/api/v2/silences", json=everything).status_code == 422
    over = {**_silence(("system", "a")), "endsAt": _iso(timedelta(hours=-1))}
    assert client.post("/api/v2/silences", json=over).status_code == 422
    assert client.get("/api/v2/silences", params={"filter": "system=a"}).json()[0]["id"] == sid
    assert client.get("/api/v2/silences", params={"filter": "system=b"}).json() == []


def test_changing_matchers_replaces_the_silence_and_open_incidents_hear_of_it(
    client: TestClient,
) -> None:
    """A silence change lands on the timeline of the open incidents it touches; new matchers
    mean a new silence and the old one expires; an alert for an open incident still folds."""
    opened = _alert(client, "a", "k")
    assert opened["action"] == "created"
    sid = client.post("/api/v2/silences", json=_silence(("system", "a"))).json()["silenceID"]
    assert _alert(client, "a", "k")["action"] == "merged"  # folds despite the silence
    same = client.post("/api/v2/silences", json={**_silence(("system", "a"), hours=5), "id": sid})
    assert same.json()["silenceID"] == sid
    moved = client.post("/api/v2/silences", json={**_silence(("system", "b")), "id": sid})
    new_id = moved.json()["silenceID"]
    assert new_id != sid
    assert client.get(f"/api/v2/silence/{sid}").json()["status"]["state"] == "expired"
    events = client.get(f"/api/v1/incidents/{opened['incident_id']}/timeline").json()["items"]
    kinds = [e["kind"] for e in events if e["kind"].startswith("silence_")]
    assert kinds == ["silence_added", "silence_updated", "silence_expired"]


def test_maintenance_windows_from_config_and_api(make_runtime: Make) -> None:
    """A window open now silences its system and shows as a window; one that opens later
    is pending and silences nothing; a window posted with `schedule` behaves the same."""
    now = datetime.now(UTC)
    open_now = (now - timedelta(minutes=1)).strftime("%H:%M")
    later = (now + timedelta(hours=3)).strftime("%H:%M")
    windows = [
        {
            "name": "sunday-retrain",
            "system": "a",
            "days": ["daily"],
            "start": open_now,
            "duration": "2h",
            "comment": "retraining",
        },
        {"name": "later", "system": "b", "days": ["daily"], "start": later, "duration": "1h"},
    ]
    with TestClient(create_app(make_runtime(maintenance_windows=windows), auth=False)) as client:
        listed = {s["comment"]: s for s in client.get("/api/v2/silences").json()}
        ends = (now + timedelta(minutes=119)).strftime("%H:%M")
        label = f"maintenance window sunday-retrain: weekly daily {open_now}-{ends} UTC"
        first = listed[f"[{label}] retraining"]
        assert first["status"]["state"] == "active"
        assert first["schedule"]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        assert _alert(client, "a", "w1")["action"] == "silenced"
        assert _alert(client, "b", "w2")["action"] == "created"
        posted = _silence(("system", "c"), hours=24 * 30)
        posted["schedule"] = {"days": ["daily"], "start": open_now, "duration_minutes": 60}
        assert client.post("/api/v2/silences", json=posted).status_code == 200
        assert _alert(client, "c", "w3")["action"] == "silenced"
        # A config window is changed in the config, not through the API.
        sid = first["id"]
        refused = client.post("/api/v2/silences", json={**_silence(("system", "a")), "id": sid})
        assert refused.status_code == 422
