"""Storm protection: one request of 8,000 alerts opens 101 incidents, not 8,000 (issue 11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.config import load_settings
from defib.intake.storm import StormGuard
from defib.store import tokens as token_repo
from defib.store.tables import alerts, incidents, playbook_runs

TOKEN = generate_token()
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _alert(i: int, service: str | None = None) -> dict[str, object]:
    return {
        "labels": {
            "alertname": "ModelServingUnavailable",
            "service": service or f"svc-{i}",
            "severity": "critical",
        },
    }


@pytest.fixture
def storm_runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = load_settings(
        None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        storm={
            "playbook_runs_per_system_per_minute": 3,
            "max_new_incidents_per_request": LIMIT[_kind(database_url)],
            "max_new_incidents_per_source_per_minute": LIMIT[_kind(database_url)] + 5,
        },
    )
    rt = Runtime(settings)
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name="ingest-bot", role=Role.INGEST, token=TOKEN, created_by="t", now=utcnow()
        )
    yield rt
    rt.close()


# The default (100 a request) on SQLite; 10 on PostgreSQL, where each opened incident
# costs a dozen round trips and the suite's time matters more than the round number.
LIMIT = {"sqlite": 100, "postgresql": 10}
TOTAL = {"sqlite": 8000, "postgresql": 400}


def _kind(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def _count(rt: Runtime, table: object) -> int:
    with rt.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_eight_thousand_alerts_open_a_hundred_incidents_and_one_storm(
    storm_runtime: Runtime, database_url: str
) -> None:
    """The reproduction: 8,000 alerts, each for its own service, in one request (775 KB):
    100 incidents and one storm incident. On PostgreSQL 400 alerts with a limit of 10."""
    rt = storm_runtime
    total, limit = TOTAL[_kind(database_url)], LIMIT[_kind(database_url)]
    folded = total - limit
    body = orjson.dumps([_alert(i) for i in range(total)])
    assert len(body) < rt.settings.max_body_bytes
    with TestClient(create_app(rt)) as client:
        r = client.post("/api/v2/alerts", content=body, headers=AUTH)
    assert r.status_code == 200, r.text[:500]
    results = r.json()["results"]
    assert len(results) == total
    actions = {a: sum(1 for x in results if x["action"] == a) for a in ("created", "folded")}
    assert actions == {"created": limit, "folded": folded}
    assert _count(rt, incidents) == limit + 1
    assert _count(rt, alerts) == total  # every alert is still stored
    assert _count(rt, playbook_runs) == limit  # none for the storm incident
    [storm_id] = {x["incident_id"] for x in results if x["action"] == "folded"}
    storm = rt.incidents.get(storm_id)
    assert storm.affected_systems == ()  # nothing for a playbook to switch off
    assert storm.labels["storm_alerts"] == str(folded)
    assert storm.labels["storm_system_count"] == str(folded)
    assert storm.labels["storm_source"] == "ingest-bot"
    assert storm.alert_count == folded
    assert f"{folded} alerts across {folded} systems" in storm.title
    [event] = [e for e in rt.incidents.timeline(storm_id) if e.kind == "storm_folded"]
    assert event.data["count"] == folded and len(event.data["systems"]) == min(folded, 100)

    # The sender's minute is nearly used up: of its next request, 5 open incidents and
    # the rest fold into the same storm incident.
    with TestClient(create_app(rt)) as client:
        again = client.post(
            "/api/v2/alerts", json=[_alert(i) for i in range(total, total + 50)], headers=AUTH
        )
    actions = [x["action"] for x in again.json()["results"]]
    assert (actions.count("created"), actions.count("folded")) == (5, 45)
    assert rt.incidents.get(storm_id).labels["storm_alerts"] == str(folded + 45)


def test_playbook_runs_are_rate_limited_per_system(
    storm_runtime: Runtime,
) -> None:
    rt = storm_runtime
    with TestClient(create_app(rt)) as client:
        for i in range(5):
            alert = _alert(i, service="chat-api")
            alert["labels"]["alertname"] = f"Region{chr(65 + i)}ServingUnavailable"  # type: ignore[index]
            r = client.post(
                "/api/v2/alerts",
                json=[alert],
                headers=AUTH,
            )
            assert r.json()["results"][0]["action"] == "created", r.text
    assert _count(rt, incidents) == 5
    assert _count(rt, playbook_runs) == 3
    deferred = [
        e
        for inc in rt.incidents.search(_all())[0]
        for e in rt.incidents.timeline(inc.id)
        if e.kind == "playbook_deferred"
    ]
    assert len(deferred) == 2


def test_the_per_source_minute_budget() -> None:
    guard = StormGuard(
        load_settings(None, storm={"max_new_incidents_per_source_per_minute": 2}).storm
    )
    assert [guard.may_open("am", 0, now=0.0) for _ in range(3)] == [True, True, False]
    assert guard.may_open("other", 0, now=1.0)
    assert guard.may_open("am", 0, now=61.0)  # a new minute
    assert not guard.may_open("am", 100, now=200.0)  # the request's own limit


def _all() -> object:
    from defib.store.incidents import IncidentFilter

    return IncidentFilter()
