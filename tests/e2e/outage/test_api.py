"""While storage is unusable the API answers 503 with Retry-After and the JSON error shape,
`/readyz` says not ready, nothing is half written; once storage is back, all is as before.

Real outages: our own PostgreSQL cluster stopped and started again, SQLite on a real tmpfs
filled to the last byte and freed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.config import load_settings
from defib.store import tokens as token_repo
from tests.support.outage.storage import SmallDisk, ThrowawayPostgres

pytestmark = [pytest.mark.slow]


def alert(i: int) -> dict[str, object]:
    return {
        "source": "outage",
        "type": "availability",
        "title": f"service {i} down",
        "systems": [f"service-{i}"],  # one incident each (not correlated)
        "severity": "critical",
        "dedup_key": f"outage-{i}",
    }


def admin_client(rt: Runtime) -> Iterator[TestClient]:
    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name="admin", role=Role.ADMIN, token=token, created_by="test", now=utcnow()
        )
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def assert_unavailable(r: Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"].isdigit()
    body = r.json()
    assert set(body["error"]) >= {"code", "message"}, body


def wait_ready(client: TestClient, timeout: float = 60) -> float:
    start = time.monotonic()
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() - start < timeout, client.get("/readyz").text
        time.sleep(0.1)
    return time.monotonic() - start


def incident_count(client: TestClient) -> int:
    r = client.get("/api/v1/incidents", params={"limit": 200})
    assert r.status_code == 200, r.text
    return len(r.json()["items"])


def test_postgresql_stopped_then_started(own_pg: ThrowawayPostgres, tmp_path: Path) -> None:
    url = own_pg.database(f"outage_api_{secrets.token_hex(3)}")
    rt = Runtime(load_settings(None, data_dir=tmp_path / "data", database_url=url))
    try:
        for client in admin_client(rt):
            assert client.post("/api/v1/alerts", json=alert(0)).status_code == 202
            assert client.get("/readyz").status_code == 200
            own_pg.stop()
            try:
                assert_unavailable(client.post("/api/v1/alerts", json=alert(1)))
                assert_unavailable(client.get("/api/v1/incidents"))
                ready = client.get("/readyz")
                assert_unavailable(ready)
                assert ready.json()["error"]["code"] == "not_ready"
            finally:
                own_pg.start()
            recovered = wait_ready(client)
            print(f"postgresql: ready {recovered:.1f}s after it started again")
            assert client.post("/api/v1/alerts", json=alert(2)).status_code == 202
            assert incident_count(client) == 2
    finally:
        rt.close()


def test_sqlite_disk_full_then_freed(small_disk: SmallDisk) -> None:
    data = small_disk.mountpoint / "data"
    rt = Runtime(load_settings(None, data_dir=data, database_url=f"sqlite:///{data}/defib.db"))
    try:
        for client in admin_client(rt):
            assert client.post("/api/v1/alerts", json=alert(0)).status_code == 202
            small_disk.fill()
            # SQLite may still fit a few writes in space its files already hold (the
            # readiness probe's too: once CI saw /readyz ready right after the fill); every
            # answer is then a 202 (durable) or a 503, and soon only 503s.
            accepted, statuses = 1, []
            for i in range(1, 200):
                r = client.post("/api/v1/alerts", json=alert(i))
                statuses.append(r.status_code)
                if r.status_code == 202:
                    accepted += 1
                    continue
                assert_unavailable(r)
                break
            assert set(statuses) <= {202, 503} and statuses[-1] == 503, statuses
            # The disk is now shown full: readiness must say so.
            assert_unavailable(client.get("/readyz"))
            small_disk.free()
            recovered = wait_ready(client)
            print(f"sqlite: ready {recovered:.1f}s after the disk was freed")
            assert client.post("/api/v1/alerts", json=alert(1000)).status_code == 202
            assert incident_count(client) == accepted + 1
    finally:
        rt.close()
