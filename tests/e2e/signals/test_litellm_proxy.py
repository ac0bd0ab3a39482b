"""End to end with a real LiteLLM proxy (PyPI `litellm[proxy]`, in its own venv made by
`make litellm-venv`) in front of the demo model, configured from contrib/litellm/config.yaml:
its generic API logger and its alerting post to a real `defib serve`, which opens the
data_leak and performance incidents."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from openai import OpenAI

from defib.auth import Role
from defib.gateway.server import ThreadedServer
from defib.testing import free_port
from tests.support.signals.serve import Serve

ROOT = (Path(__file__).parents[2] / "signals/test_litellm_proxy.py").resolve().parents[2]
LITELLM = ROOT / "bench" / ".venv-litellm" / "bin" / "litellm"
CONTRIB = ROOT / "contrib" / "litellm" / "config.yaml"
MASTER_KEY = "sk-defib-test-7f3a9c2e4b1d8f60a5e2"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not LITELLM.exists() and not os.environ.get("DEFIB_REQUIRE_LITELLM"),
        reason="LiteLLM's proxy is not installed: `make litellm-venv` puts it in "
        "bench/.venv-litellm (make test does, and then requires it)",
    ),
]


class Proxy:
    def __init__(
        self,
        tmp: Path,
        serve: Serve,
        upstream: ThreadedServer,
        *,
        api_base: str | None = None,
        api_key: str = "unused",
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ingest = serve.tokens[Role.INGEST]
        # The contrib fragment, pointed at this test's defib and demo model.
        config = yaml.safe_load(CONTRIB.read_text(encoding="utf-8"))
        config["model_list"] = [
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": api_base or f"{upstream.url}/v1",
                    "api_key": api_key,
                },
            }
            for name, model in (("support-bot", "demo-v2"), ("slow-bot", "demo-v1"))
        ]
        callback = config["callback_settings"]["defib"]
        callback["endpoint"] = callback["endpoint"].replace("http://defib.internal:8000", serve.url)
        callback["headers"]["Authorization"] = f"Bearer {ingest}"
        config["general_settings"]["alerting_threshold"] = 1
        path = tmp / "litellm.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        env = {
            **os.environ,
            "LITELLM_MASTER_KEY": MASTER_KEY,
            # LiteLLM's alerting posts Slack-shaped JSON to this URL and sends no headers.
            "SLACK_WEBHOOK_URL": f"{serve.url}/api/v1/signals/litellm/alerts?token={ingest}",
        }
        self.log = (tmp / "litellm.log").open("wb")
        self.process = subprocess.Popen(
            [str(LITELLM), "--config", str(path), "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        # LiteLLM imports for a minute on a loaded machine (one run took 120 s with the
        # cores shared): wait long, and give each probe time to be answered.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/health/liveliness", timeout=30).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"LiteLLM did not start: {self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-3000:]

    def client(self) -> OpenAI:
        return OpenAI(base_url=f"{self.url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=60)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture
def proxy(tmp_path: Path, serve: Serve, upstream: ThreadedServer) -> Iterator[Proxy]:
    p = Proxy(tmp_path, serve, upstream)
    yield p
    p.stop()


def test_a_real_litellm_proxy_opens_the_data_leak_and_performance_incidents(
    serve: Serve, proxy: Proxy
) -> None:
    client = proxy.client()
    leak = client.chat.completions.create(
        model="support-bot", messages=[{"role": "user", "content": "who is the customer?"}]
    )
    assert "jane.doe@example.com" in (leak.choices[0].message.content or "")
    [incident] = serve.wait("/api/v1/incidents?system=support-bot", lambda b: b["items"])["items"]
    assert incident["type"] == "data_leak"
    [alert] = serve.api.get(f"/api/v1/incidents/{incident['id']}/alerts").json()["items"]
    assert alert["key"] == "defib-litellm:support-bot:data_leak"

    for _ in range(3):
        client.chat.completions.create(
            model="slow-bot", messages=[{"role": "user", "content": "[sleep=3] hello"}]
        )
    # LiteLLM's own alerting (alerting_threshold 1 s) posts its hanging alert to the alerts
    # route: a performance incident. Its hanging check runs 1 s into a call and names the
    # model group; the calls last 3 s so that a loaded event loop still finds them in flight
    # (its "responses are slow" alert names the deployment's model, demo-v1, not slow-bot).
    hanging = serve.wait(
        "/api/v1/incidents?system=slow-bot",
        lambda b: any("LiteLLM: re" in i["title"] for i in b["items"]),
        timeout=120,
    )["items"]
    assert {i["type"] for i in hanging} == {"performance"}


def test_litellm_logged_durations_burn_the_latency_slo(serve: Serve, proxy: Proxy) -> None:
    """Call durations LiteLLM logs trip the system's latency SLO: an SLO incident on the
    model group's system, naming LiteLLM's call ids as the calls that burned the budget."""
    client = proxy.client()
    ids: set[str] = set()
    for _ in range(3):
        reply = client.chat.completions.create(
            model="slow-bot", messages=[{"role": "user", "content": "[sleep=1.2] hello"}]
        )
        ids.add(reply.id)
    # LiteLLM's generic logger posts every DEFAULT_FLUSH_INTERVAL_SECONDS (5 s); the SLO
    # is judged on the calls' own start times, so a late batch still counts.
    items = serve.wait(
        "/api/v1/incidents?system=slow-bot",
        lambda b: any("SLO slow-bot-latency-litellm" in i["title"] for i in b["items"]),
        timeout=120,
    )["items"]
    [slo] = [i for i in items if "SLO slow-bot-latency-litellm" in i["title"]]
    assert slo["type"] == "performance"
    assert slo["created_by"] == "litellm"
    assert set(slo["labels"]["span_ids"].split(",")) <= ids


CLIENT_KEY = "sk-defib-gateway-client-5c1e"
PAUSED = "The assistant is paused while we fix a problem."


def test_litellm_routed_through_the_gateway_obeys_the_kill_switch_and_rollback(
    tmp_path: Path, upstream: ThreadedServer
) -> None:
    """The recommended setup (defib's gateway as LiteLLM's api_base): disabling the system in
    defib pauses LiteLLM's model group, and a rollback moves it to the good version."""
    versions = [
        {"name": "v1", "upstream": f"{upstream.url}/v1", "model": "demo-v1"},
        {"name": "v2", "upstream": f"{upstream.url}/v1", "model": "demo-v2"},
    ]
    system = {
        "name": "support-bot",
        "versions": versions,
        "gateway": {
            "api_key_hashes": [hashlib.sha256(CLIENT_KEY.encode()).hexdigest()],
            "fallback_message": PAUSED,
        },
    }
    (tmp_path / "defib").mkdir()
    serve = Serve(tmp_path / "defib", [system], gateway=True)
    proxy = None
    try:
        assert serve.gateway_url is not None
        (tmp_path / "litellm").mkdir()
        proxy = Proxy(
            tmp_path / "litellm",
            serve,
            upstream,
            api_base=f"{serve.gateway_url}/systems/support-bot/v1",
            api_key=CLIENT_KEY,
        )
        client = proxy.client()

        def ask() -> str:
            reply = client.chat.completions.create(
                model="support-bot", messages=[{"role": "user", "content": "who is the customer?"}]
            )
            return reply.choices[0].message.content or ""

        assert "jane.doe@example.com" in ask()  # v2, the newest version, leaks
        state = serve.api.put(
            "/api/v1/systems/support-bot/state", json={"disabled": True, "reason": "leak"}
        )
        assert state.status_code == 200, state.text
        assert _eventually(lambda: ask() == PAUSED)
        rolled = serve.api.put(
            "/api/v1/systems/support-bot/state",
            json={"disabled": False, "active_version": "v1", "reason": "rollback"},
        )
        assert rolled.status_code == 200, rolled.text
        assert _eventually(lambda: "@" not in ask() and ask() != PAUSED)
    finally:
        if proxy is not None:
            proxy.stop()
        serve.stop()


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False
