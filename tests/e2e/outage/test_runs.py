"""Storage outages in the middle of an alert storm and of running playbooks: intake answers
202 or 503 (never 500, never a hang), and every run, including those planned just before
the outage, completes by itself once storage is back, with each effect once per key.

A real `defib serve` (embedded worker), a real receiver, real outages: our own PostgreSQL
cluster stopped and started, SQLite's tmpfs filled and freed. Prints the time to recover.
"""

from __future__ import annotations

import secrets
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from defib.testing import ServerProcess
from tests.support.engine import FAST_ENV
from tests.support.engine.receiver import Receiver
from tests.support.outage.storage import SmallDisk, ThrowawayPostgres

pytestmark = [pytest.mark.slow]

OUTAGE_SECONDS = 5.0


def playbook(url: str) -> str:
    return textwrap.dedent(
        f"""
        name: paced
        applies_to: [availability]
        steps:
          - {{name: contain, action: webhook, params: {{url: "{url}/contain"}}}}
          - {{name: pause, action: wait, params: {{seconds: 1}}}}
          - {{name: verify, action: webhook, params: {{url: "{url}/verify"}}}}
        """
    )


@dataclass
class Storm:
    """Posts one new alert every 50 ms until stopped; records every answer."""

    url: str
    token: str
    answers: list[tuple[int, float, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {self.token}"}) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                alert = {
                    "source": "storm",
                    "type": "availability",
                    "title": f"service {i} down",
                    "systems": [f"service-{i}"],
                    "severity": "critical",
                    "dedup_key": f"storm-{i}",
                }
                start = time.monotonic()
                try:
                    r = client.post(f"{self.url}/api/v1/alerts", json=alert, timeout=60)
                    status = r.status_code
                    incident = r.json()["results"][0]["incident_id"] if status == 202 else None
                    if status == 503:
                        assert r.headers["Retry-After"] and r.json()["error"]["code"]
                except httpx.HTTPError as exc:
                    status, incident = -1, type(exc).__name__
                self.answers.append((status, time.monotonic() - start, incident))
                time.sleep(0.05)


def drill(
    srv: ServerProcess,
    token_path: Path,
    receiver: Receiver,
    break_storage: Callable[[], None],
    restore_storage: Callable[[], None],
    label: str,
) -> None:
    t0 = time.monotonic()
    srv.start()
    started = time.monotonic() - t0
    storm = Storm(srv.url, token_path.read_text().strip())
    poster = threading.Thread(target=storm.run)
    poster.start()
    try:
        time.sleep(1.5)
        break_storage()
        try:
            time.sleep(OUTAGE_SECONDS / 2)
            ready = httpx.get(f"{srv.url}/readyz", timeout=30)
            time.sleep(OUTAGE_SECONDS / 2)
        finally:
            restore_storage()
        restored = time.monotonic()
        time.sleep(2.0)
    finally:
        storm.stop.set()
        poster.join()
    assert ready.status_code == 503, ready.text
    statuses = [s for s, _, _ in storm.answers]
    assert set(statuses) <= {202, 503}, (statuses, srv.log_text())
    assert 503 in statuses and statuses.count(202) >= 3, statuses
    slowest = max(latency for _, latency, _ in storm.answers)
    incidents = [inc for s, _, inc in storm.answers if s == 202]
    assert incidents and all(incidents)

    auth = {"Authorization": f"Bearer {token_path.read_text().strip()}"}
    deadline = time.monotonic() + 120
    while True:
        try:
            page = httpx.get(
                f"{srv.url}/api/v1/runs", params={"limit": 500}, headers=auth, timeout=10
            )
            runs = page.json()["items"] if page.status_code == 200 else []
        except httpx.HTTPError:
            runs = []
        active = [r for r in runs if r["status"] in ("pending", "running", "waiting_approval")]
        if len(runs) == len(incidents) and not active:
            break
        if time.monotonic() > deadline:
            stuck = [(r["id"], r["status"], [s["status"] for s in r["steps"]]) for r in active]
            raise AssertionError(f"{len(runs)}/{len(incidents)} runs; stuck {stuck}")
        time.sleep(0.2)
    recovered = time.monotonic() - restored
    assert sorted(r["incident_id"] for r in runs) == sorted(incidents)
    assert {r["status"] for r in runs} == {"succeeded"}, [
        (r["id"], r["status"], r["error"], [(s["status"], s["error"]) for s in r["steps"]])
        for r in runs
        if r["status"] != "succeeded"
    ]
    expected = {f"{r['id']}:{i}": 1 for r in runs for i in (0, 2)}
    assert dict(receiver.effects) == expected
    print(
        f"{label}: serve ready in {started:.1f}s, {len(incidents)} incidents accepted, "
        f"{statuses.count(503)} answered 503, "
        f"slowest answer {slowest:.1f}s; every run done {recovered:.1f}s after storage came back"
    )


def serve(workdir: Path, receiver: Receiver, database_url: str, data_dir: Path) -> ServerProcess:
    directory = workdir / "playbooks"
    directory.mkdir()
    (directory / "paced.yaml").write_text(playbook(receiver.url), encoding="utf-8")
    return ServerProcess(
        workdir,
        env={
            **FAST_ENV,
            "DEFIB_ENGINE_RECONCILE_SECONDS": "0.5",
            "DEFIB_DATABASE_URL": database_url,
            "DEFIB_DATA_DIR": str(data_dir),
            "DEFIB_PLAYBOOKS_DIR": str(directory),
        },
    )


def test_postgresql_outage_under_an_alert_storm(
    own_pg: ThrowawayPostgres, tmp_path: Path, receiver: Receiver
) -> None:
    url = own_pg.database(f"outage_runs_{secrets.token_hex(3)}")
    srv = serve(tmp_path, receiver, url, tmp_path / "data")
    try:
        drill(srv, tmp_path / "data" / "admin-token", receiver, own_pg.stop, own_pg.start, "pg")
    finally:
        srv.stop()


def test_sqlite_full_disk_under_an_alert_storm(
    small_disk: SmallDisk, tmp_path: Path, receiver: Receiver
) -> None:
    data = small_disk.mountpoint / "data"
    srv = serve(tmp_path, receiver, f"sqlite:///{data}/defib.db", data)
    try:
        drill(srv, data / "admin-token", receiver, small_disk.fill, small_disk.free, "sqlite")
    finally:
        srv.stop()
