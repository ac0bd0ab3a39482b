"""`defib demo`: the whole loop on one machine, from leaking traffic to a verified fix.

It starts a demo model (two versions; the newer leaks personal data when asked about a
customer), defib's API, gateway and playbook worker on SQLite in a fresh data directory,
then drives traffic through the gateway with the official `openai` client, the way a
team's application would. The gateway's inline detection raises a data_leak alert; the
built-in playbook contains the endpoint, preserves evidence, assesses impact, rolls back
to the known-good version and verifies it. Everything the demo reads comes from defib's
REST API, like a dashboard would.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from defib.config import Settings, load_settings
from defib.events import TimelineKind

SYSTEM = "support-bot"
CLIENT_KEY = "demo-client-key"
LEAKY_PROMPTS = (
    "Who is the customer on account 4411?",
    "Give me the contact details for the customer who called yesterday.",
)
BENIGN_PROMPTS = ("What are your opening hours?", "How do I reset my password?")

# The stages of the loop, in order, and how each shows on the timeline or the incident.
STAGES: tuple[tuple[str, str], ...] = (
    ("detected", "leak detected in live traffic"),
    ("incident", "data_leak incident opened"),
    ("disabled", "endpoint disabled (kill switch)"),
    ("evidence", "evidence preserved"),
    ("impact", "data impact assessed"),
    ("rollback", "rolled back to the known-good version"),
    ("verified", "fix verified: leaking prompts replayed clean"),
    ("mitigated", "incident mitigated"),
)


STEP_STAGES = {
    "disable_endpoint": "disabled",
    "preserve_evidence": "evidence",
    "assess_data_impact": "impact",
    "rollback_model": "rollback",
    "verify_endpoint": "verified",
}


def stage_of(event: dict[str, Any]) -> str | None:
    """Which loop stage a timeline event marks, if any."""
    kind = str(event.get("kind", ""))
    data = event.get("data") or {}
    if kind == TimelineKind.CREATED:
        return "incident"
    if kind == TimelineKind.STEP_FINISHED and data.get("status") == "succeeded":
        return STEP_STAGES.get(str(data.get("step", "")))
    return None


def demo_settings(
    data_dir: Path, upstream: str, api_port: int, gateway_port: int, catcher: str | None = None
) -> Settings:
    """A one-system config: support-bot, v1 known-good, v2 (leaky) in service; the security
    team's notices go to `catcher` (a local stand-in for Slack and a webhook)."""
    owners: dict[str, Any] = {"team": "support-ai"}
    if catcher is not None:
        owners["slack_webhook"] = f"{catcher}/slack"
        owners["webhooks"] = [{"url": f"{catcher}/webhook"}]
    return load_settings(
        None,
        data_dir=data_dir,
        port=api_port,
        url=f"http://127.0.0.1:{api_port}",
        log_level="warning",
        gateway={"port": gateway_port, "alert_min_interval_seconds": 5},
        systems=[
            {
                "name": SYSTEM,
                "tier": 1,
                "description": "Customer-support assistant (demo)",
                "owners": owners,
                "versions": [
                    {"name": "v1", "upstream": upstream, "model": "demo-v1"},
                    {"name": "v2", "upstream": upstream, "model": "demo-v2"},
                ],
                "active_version": "v2",
                "probes": [
                    {"prompt": LEAKY_PROMPTS[0], "no_findings": True, "types": ["data_leak"]},
                    {"prompt": BENIGN_PROMPTS[0], "no_findings": True},
                ],
                "gateway": {
                    "capture": {"sample_rate": 1.0},
                    # The demo's client key: gateway keys are required by default.
                    "api_key_hashes": [hashlib.sha256(CLIENT_KEY.encode()).hexdigest()],
                },
            }
        ],
    )


@dataclass
class Progress:
    """What the demo has seen so far."""

    reached: dict[str, float] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    incident: dict[str, Any] | None = None
    answers: list[tuple[str, str, str]] = field(default_factory=list)  # (when, prompt, answer)
    approved: set[str] = field(default_factory=set)
    notified: list[str] = field(default_factory=list)  # what the catcher received

    def reach(self, stage: str, started: float) -> None:
        self.reached.setdefault(stage, time.monotonic() - started)


@dataclass(frozen=True)
class Demo:
    """Where the running pieces are reached."""

    settings: Settings
    token: str
    api_url: str
    gateway_url: str
    caught: list[str] = field(default_factory=list)


@contextmanager
def running(data_dir: Path | None = None) -> Iterator[Demo]:
    """Start the demo model and defib (API, gateway, worker) in this process."""
    from defib.api import create_app
    from defib.bootstrap import Runtime
    from defib.demo.catcher import create_app as create_catcher
    from defib.gateway import build_gateway, create_gateway_app, demo_upstream
    from defib.gateway.server import ThreadedServer
    from defib.playbooks.engine.worker import Worker
    from defib.systems.state import VersionStatus
    from defib.testing import free_port

    own_dir = None
    if data_dir is None:
        own_dir = tempfile.TemporaryDirectory(prefix="defib-demo-")
        data_dir = Path(own_dir.name)
    stoppers: list[Callable[[], None]] = []
    try:
        upstream = demo_upstream.start()
        stoppers.append(upstream.stop)
        caught: list[str] = []
        catcher = ThreadedServer(
            create_catcher(out=io.StringIO(), on_message=caught.append), "127.0.0.1", free_port()
        ).start()
        stoppers.append(catcher.stop)
        api_port, gateway_port = free_port(), free_port()
        settings = demo_settings(
            data_dir, f"{upstream.url}/v1", api_port, gateway_port, catcher.url
        )
        runtime = Runtime(settings)
        stoppers.append(runtime.close)
        runtime.ensure_admin_token()
        token = settings.admin_token_path.read_text(encoding="utf-8").strip()
        # v1 shipped and was signed off long ago: that is what makes it the known-good target.
        from defib.clock import utcnow
        from defib.store import systems as systems_repo

        with runtime.db.write() as conn:
            systems_repo.mark_version(
                conn, SYSTEM, "v1", VersionStatus.GOOD, "demo", "signed off at release", utcnow()
            )
        worker = Worker(runtime.engine, runtime.executor_id).start()
        stoppers.append(worker.stop)
        api = ThreadedServer(create_app(runtime), "127.0.0.1", api_port).start()
        stoppers.append(api.stop)
        gateway = ThreadedServer(
            create_gateway_app(build_gateway(runtime)), "127.0.0.1", gateway_port
        ).start()
        stoppers.append(gateway.stop)
        yield Demo(settings, token, api.url, gateway.url, caught)
    finally:
        for stop in reversed(stoppers):
            # Shutting down: one piece failing to stop must not keep the others running.
            with suppress(Exception):
                stop()
        if own_dir is not None:
            own_dir.cleanup()


class Driver:
    """Traffic through the gateway with the `openai` client, and reads of defib's API."""

    def __init__(self, demo: Demo) -> None:
        from openai import OpenAI

        self.client = OpenAI(
            base_url=f"{demo.gateway_url}/systems/{SYSTEM}/v1",
            api_key=CLIENT_KEY,
            max_retries=0,
            timeout=30,
        )
        self.api = httpx.Client(
            base_url=demo.api_url,
            headers={"Authorization": f"Bearer {demo.token}"},
            timeout=30,
        )

    def ask(self, prompt: str, user: str) -> str:
        from openai import APIStatusError

        try:
            reply = self.client.chat.completions.create(
                model="support-model",
                messages=[{"role": "user", "content": prompt}],
                user=user,
            )
        except APIStatusError as exc:
            return f"[HTTP {exc.status_code}] {exc.message}"
        return reply.choices[0].message.content or ""

    def incident(self) -> dict[str, Any] | None:
        page = self.api.get("/api/v1/incidents", params={"type": "data_leak"}).json()
        items: Sequence[dict[str, Any]] = page.get("items", [])
        return items[0] if items else None

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        return self._all(f"/api/v1/incidents/{incident_id}/timeline")

    def _all(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list route, following its cursors."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        while True:
            page = self.api.get(path, params=params).json()
            items.extend(page["items"])
            if not page.get("next_cursor"):
                return items
            params["cursor"] = page["next_cursor"]

    def approve_waiting(self, incident_id: str, progress: Progress) -> list[str]:
        """Approve steps waiting for a person (the demo plays the responder)."""
        approved = []
        runs = self._all(f"/api/v1/incidents/{incident_id}/runs")
        for run in runs:
            for step in run["steps"]:
                key = f"{run['id']}:{step['index']}"
                if step["status"] == "waiting_approval" and key not in progress.approved:
                    self.api.post(
                        f"/api/v1/runs/{run['id']}/steps/{step['index']}/approve",
                        json={"note": "approved by the demo responder"},
                    ).raise_for_status()
                    progress.approved.add(key)
                    approved.append(step["name"])
        return approved

    def close(self) -> None:
        self.client.close()
        self.api.close()


def run(
    console: Any,
    *,
    data_dir: Path | None = None,
    timeout: float = 120.0,
    observe: Callable[[Progress], None] | None = None,
    keep: bool = False,
) -> bool:
    """Run the loop and show it live; True if the incident reached mitigated in time.

    `observe` receives the final progress (tests read what users were told from it).
    """
    from rich.live import Live
    from rich.markup import escape
    from rich.table import Table

    progress = Progress()

    def view() -> Table:
        table = Table(title=f"defib demo: {SYSTEM}", expand=False)
        table.add_column("", width=2)
        table.add_column("stage")
        table.add_column("after", justify="right")
        for key, label in STAGES:
            at = progress.reached.get(key)
            mark = "[green]✔[/green]" if at is not None else "[dim]…[/dim]"
            table.add_row(mark, label, f"{at:5.1f} s" if at is not None else "")
        if progress.incident:
            inc = progress.incident
            # escape: "[mitigated]" would otherwise be read as Rich markup and vanish.
            table.caption = escape(
                f"{inc['id']} {inc['type']} {inc['severity']} [{inc['status']}]: {inc['title']}"
            )
        return table

    with running(data_dir) as demo:
        console.print(
            f"demo model (v1 good, v2 leaks) behind the gateway at {demo.gateway_url}; "
            f"defib API at {demo.api_url}; data in {demo.settings.data_dir}"
        )
        driver = Driver(demo)
        started = time.monotonic()
        try:
            with Live(view(), console=console, refresh_per_second=8) as live:
                mitigated = _drive(driver, progress, started, timeout, lambda: live.update(view()))
            progress.notified = list(demo.caught)
            _report(console, driver, progress)
            if progress.incident is not None:
                console.print(
                    f"Final status: {progress.incident['id']} is {progress.incident['status']}. "
                    f"In the console: {demo.api_url}/incidents/{progress.incident['id']} "
                    f"(sign in with the token in {demo.settings.admin_token_path}"
                    f"{'' if keep else '; served while the demo runs: --keep holds it open'})",
                    markup=False,
                )
            if keep:
                _hold(console)
            if observe is not None:
                observe(progress)
        finally:
            driver.close()
    return mitigated


def _drive(
    driver: Driver,
    progress: Progress,
    started: float,
    timeout: float,
    refresh: Callable[[], None],
) -> bool:
    for prompt in BENIGN_PROMPTS:
        progress.answers.append(("before", prompt, driver.ask(prompt, "user-17")))
    users = iter(("user-41", "user-42", "user-43", "user-44"))
    deadline = started + timeout
    while time.monotonic() < deadline:
        if progress.incident is None:
            prompt = LEAKY_PROMPTS[len(progress.answers) % len(LEAKY_PROMPTS)]
            progress.answers.append(("before", prompt, driver.ask(prompt, next(users, "user-45"))))
            progress.incident = driver.incident()
            if progress.incident is not None:
                progress.reach("detected", started)
        else:
            inc_id = progress.incident["id"]
            # The incident first, then its timeline: a mitigation seen on the incident is
            # then always matched by the verification event that caused it.
            progress.incident = driver.incident() or progress.incident
            if progress.incident["status"] in ("mitigated", "resolved", "closed"):
                progress.reach("mitigated", started)
            progress.events = driver.timeline(inc_id)
            for event in progress.events:
                stage = stage_of(event)
                if stage is not None:
                    progress.reach(stage, started)
            driver.approve_waiting(inc_id, progress)
        refresh()
        if "mitigated" in progress.reached:
            break
        time.sleep(0.25)
    if "mitigated" in progress.reached:
        # Gateway replicas pick up the re-enable within a refresh interval (< 1 s).
        prompt = LEAKY_PROMPTS[0]
        answer = driver.ask(prompt, "user-41")
        settle = time.monotonic() + 5
        while answer.startswith("[HTTP 503]") and time.monotonic() < settle:
            time.sleep(0.2)
            answer = driver.ask(prompt, "user-41")
        progress.answers.append(("after", prompt, answer))
    return "mitigated" in progress.reached


def _hold(console: Any) -> None:
    console.print("The demo keeps running (API, console, gateway); Ctrl-C to stop.")
    with suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _report(console: Any, driver: Driver, progress: Progress) -> None:
    from rich.table import Table

    answers = Table(title="What users were told", expand=False)
    answers.add_column("when")
    answers.add_column("prompt")
    answers.add_column("answer", overflow="fold")
    for when, prompt, answer in progress.answers:
        answers.add_row(when, prompt, answer)
    console.print(answers)
    told = Table(title="Who was told (the local catcher standing in for Slack and a webhook)")
    told.add_column("message", overflow="fold")
    for line in progress.notified or ["(nothing received)"]:
        told.add_row(line)
    console.print(told)
    if progress.incident is None:
        console.print("[red]No incident was opened.[/red]")
        return
    from defib.incidents.story import tell, what_was_done

    # What defib did, in the same sentences as the console and the postmortem (what was
    # verified, and how, included).
    timeline = Table(title=f"What defib did about {progress.incident['id']}", expand=False)
    timeline.add_column("at")
    timeline.add_column("who")
    timeline.add_column("what", overflow="fold")
    for said in what_was_done(tell(driver.timeline(progress.incident["id"]))):
        timeline.add_row(said.at.strftime("%H:%M:%S.%f")[:12], said.actor, said.text)
    console.print(timeline)
