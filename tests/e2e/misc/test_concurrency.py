"""Dedup holds across processes: concurrent posts of one alert to several replicas."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from defib.testing import ServerProcess

REPLICAS = 3
POSTS = 60


@pytest.mark.slow
def test_concurrent_posts_to_replicas_make_one_incident(database_url: str, tmp_path: Path) -> None:
    """Many concurrent posts of the same alert from several processes: one incident, exact count."""
    servers = []
    try:
        first = ServerProcess(tmp_path / "r0", env={"DEFIB_DATABASE_URL": database_url})
        first.workdir.mkdir()
        servers.append(first.start())
        token = (first.workdir / ".defib" / "admin-token").read_text().strip()
        for i in range(1, REPLICAS):
            srv = ServerProcess(tmp_path / f"r{i}", env={"DEFIB_DATABASE_URL": database_url})
            srv.workdir.mkdir()
            servers.append(srv.start())

        def post(i: int) -> str:
            alert = {
                "source": "load",
                "type": "availability",
                "title": "chat-api 5xx spike",
                "systems": ["chat-api"],
                "severity": "critical",
                "dedup_key": "chat-api-5xx",
                # Distinct firings of one alert, not re-deliveries of one.
                "occurred_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
            }
            url = servers[i % REPLICAS].url
            r = httpx.post(
                f"{url}/api/v1/alerts",
                json=alert,
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert r.status_code == 202, r.text
            return str(r.json()["results"][0]["action"])

        with ThreadPoolExecutor(max_workers=24) as pool:
            actions = list(pool.map(post, range(POSTS)))
        assert actions.count("created") == 1
        assert actions.count("merged") == POSTS - 1
        page = httpx.get(
            f"{servers[0].url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert len(page["items"]) == 1
        assert page["items"][0]["alert_count"] == POSTS
        # Re-sending every one of them again (re-deliveries) changes nothing.
        with ThreadPoolExecutor(max_workers=24) as pool:
            again = list(pool.map(post, range(POSTS)))
        assert set(again) == {"duplicate"}
    finally:
        for srv in servers:
            srv.stop()
