"""GET /metrics after a scripted incident lifecycle, read back with prometheus-client's parser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.config import load_settings
from defib.store import tokens as token_repo
from defib.store.tables import playbook_run_steps, playbook_runs

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _alert(system: str, kind: str = "toxicity") -> dict[str, object]:
    return {
        "source": "guardrails",
        "type": kind,
        "title": f"{kind} on {system}",
        "systems": [system],
        "severity": "high",
        "dedup_key": f"{system}-{kind}",
    }


def _runtime(database_url: str, tmp_path: Path, **metrics: object) -> Runtime:
    settings = load_settings(
        None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        metrics={"cache_seconds": 0, **metrics},
    )
    return Runtime(settings)


def _token(rt: Runtime, role: Role) -> str:
    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name=f"{role.value}-m", role=role, token=token, created_by="t", now=utcnow()
        )
    return token


@pytest.fixture
def rt(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = _runtime(database_url, tmp_path)
    yield runtime
    runtime.close()


def scrape(client: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}}, parsed by prometheus-client itself."""
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def lbl(**kv: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kv.items()))


def test_lifecycle_counts_and_response_time_histograms(rt: Runtime) -> None:
    """Counts, open gauges and MTTA/MTTM/MTTR observations follow a scripted lifecycle."""
    clock = Clock()
    rt.incidents.clock = clock
    with TestClient(create_app(rt)) as client:
        client.headers["Authorization"] = f"Bearer {_token(rt, Role.ADMIN)}"
        # INC-1: toxicity SEV2, acked after 90 s, mitigated at 10 min (a bucket's bound:
        # le is inclusive), resolved at 7100 s.
        assert (
            client.post("/api/v1/alerts", json=_alert("chat")).json()["results"][0]["action"]
            == "created"
        )
        assert (
            client.post("/api/v1/alerts", json=_alert("chat")).json()["results"][0]["action"]
            == "merged"
        )
        clock.advance(90)
        assert client.post("/api/v1/incidents/INC-1/acknowledge").status_code == 200
        clock.advance(510)
        assert client.post("/api/v1/incidents/INC-1/mitigate").status_code == 200
        clock.advance(6500)
        assert client.post("/api/v1/incidents/INC-1/resolve").status_code == 200
        # INC-2: data_leak SEV1 stays open, acknowledged after 20 s.
        client.post("/api/v1/alerts/native", json=_alert("bot", "data_leak"))
        clock.advance(20)
        assert client.post("/api/v1/incidents/INC-2/acknowledge").status_code == 200
        # Refused payloads count per reason.
        assert client.post("/api/v1/alerts", content=b"{nope").status_code == 400
        assert client.post("/api/v1/alerts/native", json={"title": 3}).status_code == 422

        m = scrape(client)

    tox = lbl(type="toxicity", severity="SEV2")
    leak = lbl(type="data_leak", severity="SEV1")
    assert m["defib_alerts_received_total"][lbl(format="native", action="created")] == 2
    assert m["defib_alerts_received_total"][lbl(format="native", action="merged")] == 1
    assert m["defib_alerts_rejected_total"][lbl(reason="not_json")] == 1
    assert m["defib_alerts_rejected_total"][lbl(reason="invalid_payload")] == 1
    assert m["defib_incidents_opened_total"] == {tox: 1, leak: 1}
    assert m["defib_incidents_open"] == {tox: 0, leak: 1}

    tta = m["defib_incident_time_to_acknowledge_seconds_bucket"]
    assert tta[lbl(le="60.0", severity="SEV2", type="toxicity")] == 0
    assert tta[lbl(le="120.0", severity="SEV2", type="toxicity")] == 1
    assert tta[lbl(le="30.0", severity="SEV1", type="data_leak")] == 1
    assert m["defib_incident_time_to_acknowledge_seconds_count"] == {tox: 1, leak: 1}
    assert m["defib_incident_time_to_acknowledge_seconds_sum"][tox] == pytest.approx(90, abs=0.01)
    ttm = m["defib_incident_time_to_mitigate_seconds_bucket"]
    assert ttm[lbl(le="300.0", severity="SEV2", type="toxicity")] == 0
    assert ttm[lbl(le="600.0", severity="SEV2", type="toxicity")] == 1
    assert leak not in m.get("defib_incident_time_to_mitigate_seconds_count", {})
    ttr = m["defib_incident_time_to_resolve_seconds_bucket"]
    assert ttr[lbl(le="3600.0", severity="SEV2", type="toxicity")] == 0
    assert ttr[lbl(le="7200.0", severity="SEV2", type="toxicity")] == 1
    assert m["defib_incident_time_to_resolve_seconds_sum"][tox] == pytest.approx(7100, abs=0.01)
    # Planned (not executed: no worker here) runs are active, and none has ended.
    active = m["defib_playbook_runs_active"]
    assert active[lbl(playbook="toxicity", status="pending")] == 1
    assert active[lbl(playbook="data_leak", status="pending")] == 1
    assert "defib_playbook_runs_total" not in m
    assert m["defib_database_up"][()] == 1


def test_reopen_restarts_the_clock_and_counts(rt: Runtime) -> None:
    """After a reopen, time to acknowledge runs from the reopening, not the first detection."""
    clock = Clock()
    rt.incidents.clock = clock
    with TestClient(create_app(rt)) as client:
        client.headers["Authorization"] = f"Bearer {_token(rt, Role.RESPONDER)}"
        client.post("/api/v1/alerts", json=_alert("chat", "bias"))
        clock.advance(5000)
        client.post("/api/v1/incidents/INC-1/resolve")
        clock.advance(100)
        assert client.post("/api/v1/incidents/INC-1/reopen").status_code == 200
        clock.advance(10)
        client.post("/api/v1/incidents/INC-1/acknowledge")
        m = scrape(client)
    key = lbl(type="bias", severity="SEV2")
    assert m["defib_incidents_reopened_total"][key] == 1
    assert m["defib_incident_time_to_acknowledge_seconds_sum"][key] == pytest.approx(10, abs=0.01)
    # The resolve stamp was cleared by the reopen: no resolution counted now.
    assert key not in m.get("defib_incident_time_to_resolve_seconds_count", {})


def test_finished_runs_and_step_durations(rt: Runtime) -> None:
    """Ended runs count by final status; finished steps land in the step histogram."""
    with TestClient(create_app(rt)) as client:
        client.headers["Authorization"] = f"Bearer {_token(rt, Role.ADMIN)}"
        client.post("/api/v1/alerts", json=_alert("chat"))
        with rt.db.write() as conn:
            run_id = conn.execute(select(playbook_runs.c.id)).scalar_one()
            conn.execute(update(playbook_runs).values(status="failed", started_at=T0, ended_at=T0))
            conn.execute(
                update(playbook_run_steps)
                .where(playbook_run_steps.c.run_id == run_id, playbook_run_steps.c.idx == 0)
                .values(status="succeeded", started_at=T0, ended_at=T0 + timedelta(seconds=3))
            )
        m = scrape(client)
    assert m["defib_playbook_runs_total"] == {lbl(playbook="toxicity", status="failed"): 1}
    step = m["defib_playbook_step_duration_seconds_bucket"]
    assert step[lbl(action="block_output", status="succeeded", le="2.5")] == 0
    assert step[lbl(action="block_output", status="succeeded", le="5.0")] == 1
    assert len(m["defib_playbook_step_duration_seconds_count"]) == 1


def test_database_series_are_cached(database_url: str, tmp_path: Path) -> None:
    """Within cache_seconds a scrape answers from the last read, not a new query."""
    runtime = _runtime(database_url, tmp_path, cache_seconds=3600)
    try:
        with TestClient(create_app(runtime)) as client:
            client.headers["Authorization"] = f"Bearer {_token(runtime, Role.ADMIN)}"
            assert "defib_incidents_opened_total" not in scrape(client)
            client.post("/api/v1/alerts", json=_alert("chat"))
            m = scrape(client)
            # Per-process counters are live; the database-derived ones wait for the cache.
            assert m["defib_alerts_received_total"][lbl(format="native", action="created")] == 1
            assert "defib_incidents_opened_total" not in m
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("public", "role", "status"),
    [
        (False, None, 401),
        (False, Role.INGEST, 403),
        (False, Role.VIEWER, 200),
        (True, None, 200),
    ],
)
def test_who_may_scrape(
    database_url: str, tmp_path: Path, public: bool, role: Role | None, status: int
) -> None:
    """A viewer token is needed unless `metrics.public` is set."""
    runtime = _runtime(database_url, tmp_path, public=public)
    try:
        with TestClient(create_app(runtime)) as client:
            if role is not None:
                client.headers["Authorization"] = f"Bearer {_token(runtime, role)}"
            resp = client.get("/metrics")
            assert resp.status_code == status
            if status != 200:
                assert resp.json()["error"]["code"] in {"unauthorized", "forbidden"}
    finally:
        runtime.close()
