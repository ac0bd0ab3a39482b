"""Issue 24's proof through the API, on the tour's setup, on both databases: real processes
(the demo model, `defib serve` with its embedded gateway and worker) on `defib init`'s
defib.yaml, driven over HTTP only with the admin token.

- A latency alert while the demo model is slow: the generic playbook's verify_endpoint
  sends only the system's performance probe, through the gateway, finds it over its
  `max_latency_ms` and ends `unverified`; the run `needs_attention` and the incident
  stays detected until the alert's own resolve arrives, which mitigates it ("verified by
  the source").
- A data_leak alert carrying the leaking version's answer as its sample: rolled back to
  the known-good v1, the sample replayed through the gateway comes back clean, the kill
  switch is lifted and the incident mitigated, saying the replay verified it.

docs/playbooks.md ("What verified means, per incident type") is the expected behaviour.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from defib.cli.init import example_config
from defib.demo.catcher import create_app as create_catcher
from defib.events import IngestAction, TimelineKind
from defib.gateway.server import ThreadedServer
from defib.testing import ServerProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SYSTEM = "support-bot"
CLIENT_KEY = "dfk_test-client-key"
# The tour's performance probe, asked of a model that is slow right now: the demo model's
# `[sleep=S]` hook answers after S seconds, above the probe's latency bound. (Verbatim, the
# demo model answers it in ~10 ms, and verify_endpoint would mitigate the latency incident
# only once the probe had passed on every round for support-bot's hold window, 60 s by
# default: one quick answer is not evidence.) The window is cut to 1 s here so that the
# failing probe ends the step quickly: 1.4 s of waiting, one round of 1.5 s.
SLOW_PROMPT = "[sleep=1.5] What are your opening hours?"
PROBE_BOUND_MS = 1000
TOUR_PERF_PROBE = (
    "      - prompt: What are your opening hours?\n"
    "        types: [performance, availability]\n"
    "        max_latency_ms: 2000\n"
)
SLOW_PERF_PROBE = (
    f'      - prompt: "{SLOW_PROMPT}"\n'
    "        types: [performance, availability]\n"
    f"        max_latency_ms: {PROBE_BOUND_MS}\n"
    "    verification: {hold_seconds: 1, interval_seconds: 0.2}\n"
)
# Not the tour's data_leak probe's prompt: what the replay sends is told apart from it.
LEAK_PROMPT = "Give me the contact details for the customer who called yesterday."


@dataclass
class Tour:
    """The running tour: defib's API, its token, the gateway and the demo model."""

    server: ServerProcess
    token: str
    model_url: str

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.server.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kwargs,
        )
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()

    def alert(self, payload: dict[str, Any]) -> dict[str, Any]:
        (result,) = self.call("POST", "/alerts", json=payload)["results"]
        return dict(result)

    def incident(self, incident_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/incidents/{incident_id}"))

    def timeline(self, incident_id: str, kind: str) -> list[dict[str, Any]]:
        events = self.call("GET", f"/incidents/{incident_id}/timeline", params={"limit": 500})
        return [e["data"] for e in events["items"] if e["kind"] == kind]

    def run_until(
        self,
        incident_id: str,
        playbook: str,
        done: Callable[[dict[str, Any]], bool],
        timeout: float = 45,
    ) -> dict[str, Any]:
        """The incident's one run of `playbook` once `done` holds for it (as GET .../runs
        reports it). A SEV1/SEV2 also has its on-call paging run beside it."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.call("GET", f"/incidents/{incident_id}/runs")["items"]
            mine = [r for r in runs if r["playbook"] == playbook]
            assert len(mine) <= 1, mine
            if mine and done(mine[0]):
                return dict(mine[0])
            assert time.monotonic() < deadline, f"no {playbook} run got there: {runs}"
            time.sleep(0.2)


ENDED = {"succeeded", "needs_attention", "failed", "timed_out", "cancelled"}


def steps(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["steps"]}


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"{url}: the process exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.1)


@pytest.fixture
def tour(database_url: str, tmp_path: Path) -> Iterator[Tour]:
    """`defib init`'s config (the tour's), its demo model as its own process, the catcher
    standing in for Slack and webhooks, and `defib serve` with gateway and worker."""
    model_port = free_port()
    model = subprocess.Popen(
        [sys.executable, "-m", "defib.gateway.demo_upstream", "--port", str(model_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Notifications must land somewhere, or the notify steps' retries would slow the runs.
    catcher = ThreadedServer(create_catcher(out=io.StringIO()), "127.0.0.1", free_port()).start()
    server: ServerProcess | None = None
    try:
        model_url = f"http://127.0.0.1:{model_port}/v1"
        wait_ready(f"{model_url}/models", model)
        config = example_config(catcher.port, model_port, CLIENT_KEY)
        assert TOUR_PERF_PROBE in config, "the tour's performance probe changed"
        config_path = tmp_path / "defib.yaml"
        config_path.write_text(config.replace(TOUR_PERF_PROBE, SLOW_PERF_PROBE))
        server = ServerProcess(
            tmp_path, env={"DEFIB_DATABASE_URL": database_url, "DEFIB_CONFIG": str(config_path)}
        ).start(timeout=60)
        token = (tmp_path / ".defib" / "admin-token").read_text().strip()
        yield Tour(server, token, model_url)
    finally:
        if server is not None:
            server.stop()
        catcher.stop()
        model.terminate()
        model.wait(timeout=10)


def test_latency_alert_stays_unmitigated_until_its_resolve_arrives(tour: Tour) -> None:
    """docs/playbooks.md, `performance`: evidence is the source's resolve, or probes naming
    `performance` within `max_latency_ms`; without it the step ends `unverified`."""
    alert = {
        "source": "prometheus",
        "type": "performance",
        "title": f"{SYSTEM} p99 latency 9.2s above 4s SLO",
        "systems": [SYSTEM],
        "severity": "warning",
        "dedup_key": "support-bot-latency",
    }
    opened = tour.alert(alert)
    assert opened["action"] == IngestAction.CREATED, opened
    inc = opened["incident_id"]
    run = tour.run_until(inc, "generic", lambda r: r["status"] in ENDED)
    verify = steps(run)["verify_endpoint"]
    assert verify["status"] == "unverified", verify
    assert run["status"] == "needs_attention", run
    assert "verify_endpoint is unverified" in (run["error"] or "")
    # defib measured the latency itself, through the gateway, on the slow demo model: only
    # the performance probe was sent (no untyped or data_leak probe stands in for it).
    (unverified,) = tour.timeline(inc, TimelineKind.STEP_UNVERIFIED)
    assert unverified["reason"].startswith("objective not met: support-bot probe 2: took ")
    assert f"(bound {PROBE_BOUND_MS} ms)" in unverified["reason"]
    (probe,) = unverified["results"]
    assert probe["probe"] == 2 and probe["status_code"] == 200 and not probe["ok"]
    assert probe["latency_ms"] > PROBE_BOUND_MS
    assert unverified["firing"] == 1
    assert f"defib incidents mitigate {inc}" in unverified["ask"]
    (attention,) = tour.timeline(inc, TimelineKind.RUN_NEEDS_ATTENTION)
    assert attention["run_id"] == run["id"]
    assert tour.timeline(inc, TimelineKind.STEP_VERIFIED) == []
    incident = tour.incident(inc)
    assert incident["status"] == "detected" and incident["mitigated_at"] is None
    (series,) = tour.call("GET", f"/incidents/{inc}/alerts")["items"]
    assert series["firing"] is True

    cleared = tour.alert({**alert, "status": "resolved"})
    assert cleared["action"] == IngestAction.CLEARED, cleared
    assert cleared["incident_id"] == inc
    incident = tour.incident(inc)
    # The source's word mitigates a latency incident; resolving is left to a person.
    assert incident["status"] == "mitigated", incident
    assert incident["resolved_at"] is None
    (moved,) = [t for t in tour.timeline(inc, TimelineKind.TRANSITION) if t["to"] == "mitigated"]
    assert moved["from"] == "detected"
    assert moved["note"] == "verified by the source: every alert of the incident resolved"
    (series,) = tour.call("GET", f"/incidents/{inc}/alerts")["items"]
    assert series["firing"] is False


def test_leak_replayed_clean_on_the_rolled_back_version_is_mitigated(tour: Tour) -> None:
    """docs/playbooks.md, `data_leak`: the incident's own captured samples sent again to the
    version now serving, the PII detector clean on every answer, verify it; the kill switch
    is lifted and the mitigating transition's note repeats how."""
    # What a guardrail in front of the application caught: the leaking version's answer.
    leaked = httpx.post(
        f"{tour.model_url}/chat/completions",
        json={"model": "demo-v2", "messages": [{"role": "user", "content": LEAK_PROMPT}]},
        timeout=10,
    ).json()["choices"][0]["message"]["content"]
    assert "123-45-6789" in leaked  # the sample really carries personal data
    # The tour's `defib systems mark support-bot v1 good`, as its API call.
    marked = tour.call(
        "POST", f"/systems/{SYSTEM}/versions/v1", json={"status": "good", "note": "release"}
    )
    assert marked["status"] == "good"
    assert tour.call("GET", f"/systems/{SYSTEM}")["state"]["active_version"] == "v2"

    opened = tour.alert(
        {
            "source": "guardrails",
            "type": "data_leak",
            "title": f"{SYSTEM} answered with a customer's personal data",
            "systems": [SYSTEM],
            "severity": "critical",
            "dedup_key": "support-bot-leak",
            "samples": [{"prompt": LEAK_PROMPT, "response": leaked}],
        }
    )
    assert opened["action"] == IngestAction.CREATED, opened
    inc = opened["incident_id"]
    # The playbook's last step waits for a person's approval to tell the affected users.
    run = tour.run_until(
        inc, "data_leak", lambda r: any(s["status"] == "waiting_approval" for s in r["steps"])
    )
    done = steps(run)
    assert done["disable_endpoint"]["status"] == "succeeded"
    assert done["rollback_model"]["status"] == "succeeded", done["rollback_model"]
    assert done["verify_endpoint"]["status"] == "succeeded", done["verify_endpoint"]
    (verified,) = tour.timeline(inc, TimelineKind.STEP_VERIFIED)
    # The replay is named first; the tour's data_leak probe and its untyped probe passed
    # beside it (the performance probe is not sent for a data_leak).
    assert verified["how"] == (
        "1 captured sample(s) replayed clean (pii); 1 data_leak probe(s) passed;"
        " 1 untyped probe(s) passed too"
    )
    replays = [r for r in verified["results"] if "replay" in r]
    assert replays == [
        {
            "system": SYSTEM,
            "replay": 0,
            "ok": True,
            "problems": [],
            "status_code": 200,
            "latency_ms": replays[0]["latency_ms"],
        }
    ]
    assert tour.timeline(inc, TimelineKind.STEP_VERIFICATION_FAILED) == []
    assert tour.timeline(inc, TimelineKind.STEP_UNVERIFIED) == []

    incident = tour.incident(inc)
    assert incident["status"] == "mitigated", incident
    (moved,) = [t for t in tour.timeline(inc, TimelineKind.TRANSITION) if t["to"] == "mitigated"]
    assert moved["note"] == f"verified by verify_endpoint: {verified['how']}"
    state = tour.call("GET", f"/systems/{SYSTEM}")["state"]
    assert state["active_version"] == "v1" and not state["disabled"], state
    # The alert still fires: content incidents are not mitigated by their alerts going
    # quiet, so this was the replay's doing, not the source's.
    (series,) = tour.call("GET", f"/incidents/{inc}/alerts")["items"]
    assert series["firing"] is True

    # A client through the gateway now gets v1's answer to the prompt that leaked, once the
    # gateway has re-read the state (every `gateway.state_refresh_seconds`, 0.5 s).
    deadline = time.monotonic() + 10
    while True:
        answer = httpx.post(
            f"http://127.0.0.1:{tour.server.gateway_port}/v1/chat/completions",
            headers={"Authorization": f"Bearer {CLIENT_KEY}"},
            json={"model": "any", "messages": [{"role": "user", "content": LEAK_PROMPT}]},
            timeout=10,
        )
        if answer.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "demo-v1"
    assert "123-45-6789" not in answer.json()["choices"][0]["message"]["content"]
