"""The randomized kill storm (`make drill`): SIGKILL defib's processes at random instants
while every playbook and every action kind runs, then check what must hold.

    python -m bench.drill.storm [--seed N] [--kills 25] [--db sqlite,postgresql]

The seed is printed first; `--seed N` replays the same schedule of kills and alerts. On
SQLite one `defib serve` runs the API, the gateway and the worker; on PostgreSQL (a fresh
database per storm) `defib serve --no-worker` and two `defib worker`s share it. Exit 0 when
every invariant held on every database, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from bench.drill import world
from bench.drill.invariants import TERMINAL, Observed, Report, check, render
from bench.drill.peers import MailPeer, PagerDutyPeer, SlackPeer, WebhookPeer
from bench.drill.procs import Proc
from bench.drill.schedule import Schedule, approves, plan

PG_ADMIN_URL = os.environ.get(
    "DEFIB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
RESPONDER = "storm-responder"


@dataclass
class Api:
    """defib's REST API as the storm's people and monitors use it: retried while it is down."""

    url: str
    token: str = ""
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def call(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.client.request(method, f"{self.url}{path}", headers=headers, **kw)

    def patiently(self, method: str, path: str, timeout: float = 120, **kw: Any) -> httpx.Response:
        """Retry through kills (connection refused, 503) until an answer that is not those."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.call(method, path, **kw)
                if r.status_code != 503:
                    return r
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: no answer in {timeout:g} s")
            time.sleep(0.2)

    def all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 500, **params}
        while True:
            r = self.patiently("GET", path, params=query)
            r.raise_for_status()
            page = r.json()
            items += page["items"]
            if not page.get("next_cursor"):
                return items
            query["cursor"] = page["next_cursor"]


class Responder(threading.Thread):
    """Decides every step waiting for approval (approve, or reject one in four by key),
    through the API, all along the storm and after it."""

    def __init__(self, api: Api, token: str) -> None:
        super().__init__(daemon=True)
        self.api, self.token = api, token
        self.done = threading.Event()
        self.sent: set[str] = set()

    def run(self) -> None:
        while not self.done.is_set():
            with suppress(httpx.HTTPError, RuntimeError, ValueError, KeyError):
                self.pass_once()
            self.done.wait(0.3)

    def pass_once(self) -> None:
        r = self.api.call(
            "GET", "/api/v1/runs", params={"status": ["running", "waiting_approval"], "limit": 500}
        )
        if r.status_code != 200:
            return
        for run in r.json()["items"]:
            for step in run["steps"]:
                if step["status"] != "waiting_approval":
                    continue
                key = f"{run['id']}:{step['index']}"
                verb = "approve" if approves(key) else "reject"
                # Sent again while still waiting (a kill may have eaten the first): the
                # engine takes one decision per step.
                self.api.call(
                    "POST",
                    f"/api/v1/runs/{run['id']}/steps/{step['index']}/{verb}",
                    token=self.token,
                    json={"note": f"storm {verb}"},
                )
                self.sent.add(key)


class Poster(threading.Thread):
    """Posts each wave of alerts when told, retrying through kills."""

    def __init__(self, api: Api, patience: float = 300) -> None:
        super().__init__(daemon=True)
        self.api, self.patience = api, patience
        self.queue: list[list[dict[str, Any]]] = []
        self.lock = threading.Condition()
        self.incidents: set[str] = set()
        self.closed = False
        # Alerts defib never accepted (no answer through the retries, or an error status):
        # violations, since every kill is followed by a restart the API must come back from.
        self.unposted: list[str] = []

    def submit(self, wave: list[dict[str, Any]]) -> None:
        with self.lock:
            self.queue.append(wave)
            self.lock.notify()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.lock.notify()

    def run(self) -> None:
        while True:
            with self.lock:
                while not self.queue and not self.closed:
                    self.lock.wait()
                if not self.queue:
                    return
                wave = self.queue.pop(0)
            for alert in wave:
                # A 202 lost to a kill is posted again: the fingerprint folds the repeat.
                try:
                    r = self.api.patiently(
                        "POST", "/api/v1/alerts", timeout=self.patience, json=alert
                    )
                    r.raise_for_status()
                except (RuntimeError, httpx.HTTPError) as exc:
                    self.unposted.append(f"alert {alert.get('title')!r} never accepted: {exc}")
                    continue
                for result in r.json()["results"]:
                    self.incidents.add(result["incident_id"])


@contextmanager
def database(kind: str, workdir: Path, seed: int) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'defib.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"defib_storm_{seed}_{os.getpid()}_{secrets.token_hex(2)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Outcome:
    kind: str
    report: Report
    kills: dict[str, int]
    wall_seconds: float


def storm(kind: str, seed: int, kills: int, workdir: Path, bound: float, log: Any) -> Outcome:
    """One storm on one database."""
    from defib.gateway import demo_upstream

    started = time.monotonic()
    webhook, slack, pagerduty = WebhookPeer().start(), SlackPeer().start(), PagerDutyPeer().start()
    mail = MailPeer().start()
    model = demo_upstream.start()
    targets = ("serve",) if kind == "sqlite" else ("serve", "worker-1", "worker-2")
    schedule = plan(seed, targets, kills)
    wave_alerts = world.waves(len(schedule.waves), seed)
    systems = len(wave_alerts) * len(world.TYPES)
    procs: dict[str, Proc] = {}
    try:
        with database(kind, workdir, seed) as url:
            peers = world.Peers(webhook.url, slack.url, pagerduty.url, mail.port, f"{model.url}/v1")
            api_url = _start(kind, workdir, url, peers, systems, procs)
            admin = (workdir / "data" / "admin-token").read_text().strip()
            api = Api(api_url, admin)
            responder_token = _setup(api, systems)
            responder = Responder(api, responder_token)
            responder.start()
            poster = Poster(api)
            poster.start()
            print(
                f"[{kind}] ready after {time.monotonic() - started:.1f} s; storm of {kills} kills",
                file=log,
                flush=True,
            )
            last_restart = _rampage(schedule, procs, poster, wave_alerts, log, kind)
            poster.close()
            poster.join(timeout=600)
            seen = _drain(api, poster, procs, last_restart, bound, log, kind)
            responder.done.set()
            seen.webhook, seen.slack = webhook.snapshot(), slack.snapshot()
            seen.pagerduty, seen.mails = pagerduty.snapshot(), mail.snapshot()
            report = check(seen)
            report.violations += poster.unposted
            report.figures = {
                "seed": seed,
                "kills": {n: p.kills for n, p in procs.items()},
                "kills_while_starting": sum(not k.from_ready for k in schedule.kills),
                "alerts_posted": sum(len(w) for w in wave_alerts) - len(poster.unposted),
                "unexpected_exits": {n: p.exits for n, p in procs.items() if p.exits},
                **report.figures,
            }
            for p in procs.values():
                p.stop()
            return Outcome(
                kind, report, {n: p.kills for n, p in procs.items()}, time.monotonic() - started
            )
    finally:
        for p in procs.values():
            p.stop()
        for stop in (webhook.stop, slack.stop, pagerduty.stop, mail.stop, model.stop):
            with suppress(Exception):
                stop()


def _start(
    kind: str,
    workdir: Path,
    url: str,
    peers: world.Peers,
    systems: int,
    procs: dict[str, Proc],
) -> str:
    """Write the config and the custom playbook, start every process; the API's URL."""
    from defib.testing import free_port

    playbooks = workdir / "playbooks"
    playbooks.mkdir()
    (playbooks / "storm.yaml").write_text(world.storm_playbook(peers.webhook))
    port, gateway_port = free_port(), free_port()
    config = world.settings(
        systems,
        peers,
        data_dir=str(workdir / "data"),
        database_url=url,
        playbooks_dir=str(playbooks),
        port=port,
        gateway_port=gateway_port,
    )
    (workdir / "defib.yaml").write_text(yaml.safe_dump(config))
    env = {"DEFIB_CONFIG": str(workdir / "defib.yaml")}
    api_url = f"http://127.0.0.1:{port}"
    serve_args = ("serve",) if kind == "sqlite" else ("serve", "--no-worker")
    procs["serve"] = Proc("serve", serve_args, env, workdir, ready_url=f"{api_url}/readyz")
    procs["serve"].spawn()
    procs["serve"].wait_ready(120)  # it migrates the database first
    if kind != "sqlite":
        # One worker keeps its executor id across restarts (it recovers its own runs at
        # once); the other gets a new one each start (the janitor takes its runs over).
        procs["worker-1"] = Proc(
            "worker-1", ("worker",), {**env, "DEFIB_EXECUTOR_ID": "storm-w1"}, workdir
        )
        procs["worker-2"] = Proc("worker-2", ("worker",), env, workdir)
    for p in procs.values():
        if p.proc is None:
            p.spawn()
    for p in procs.values():
        p.wait_ready(120)
    return api_url


def _setup(api: Api, systems: int) -> str:
    """v1 of every system signed off (the known-good target); a responder's token."""
    for i in range(systems):
        r = api.patiently(
            "POST",
            f"/api/v1/systems/{world.system_name(i)}/versions/v1",
            json={"status": "good", "note": "signed off at release"},
        )
        r.raise_for_status()
    r = api.patiently("POST", "/api/v1/tokens", json={"name": RESPONDER, "role": "responder"})
    r.raise_for_status()
    return str(r.json()["token"])


def _rampage(
    schedule: Schedule,
    procs: dict[str, Proc],
    poster: Poster,
    waves: list[list[dict[str, Any]]],
    log: Any,
    kind: str,
) -> float:
    """Run the schedule; return when the last restart was started (monotonic)."""
    wave_at = dict(zip(schedule.waves, waves, strict=True))
    last_restart = time.monotonic()
    for i, kill in enumerate(schedule.kills):
        if i in wave_at:
            poster.submit(wave_at[i])
        if kill.from_ready:
            _await_ready(procs[kill.target], procs)
        _sleep_supervised(kill.after, procs)
        procs[kill.target].kill()
        _sleep_supervised(kill.down, procs)
        procs[kill.target].spawn()
        last_restart = time.monotonic()
        if (i + 1) % 25 == 0:
            print(f"[{kind}] {i + 1} kills", file=log, flush=True)
    return last_restart


def _await_ready(target: Proc, procs: dict[str, Proc], timeout: float = 120) -> None:
    """Until `target` is ready (then the kill's gap starts); a target still not ready after
    `timeout` is killed anyway, and `_drain`'s bound then judges whether it recovers."""
    end = time.monotonic() + timeout
    while not target.is_ready() and time.monotonic() < end:
        _sleep_supervised(0.1, procs)


def _sleep_supervised(seconds: float, procs: dict[str, Proc]) -> None:
    """Sleep, restarting any process that died by itself meanwhile (as systemd would)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        for p in procs.values():
            p.revive()
        time.sleep(min(0.1, left))


def _drain(
    api: Api,
    poster: Poster,
    procs: dict[str, Proc],
    last_restart: float,
    bound: float,
    log: Any,
    kind: str,
) -> Observed:
    """Wait (up to `bound` after the last restart) for every run to end; collect evidence."""
    terminal_after: dict[str, float] = {}
    deadline = last_restart + bound
    runs: list[dict[str, Any]] = []
    while True:
        for p in procs.values():
            p.revive()
        with suppress(RuntimeError, httpx.HTTPError):
            runs = api.all("/api/v1/runs")
        now = time.monotonic()
        for run in runs:
            if run["status"] in TERMINAL and run["id"] not in terminal_after:
                terminal_after[run["id"]] = max(0.0, now - last_restart)
        ended = len(runs) >= len(poster.incidents) and all(r["status"] in TERMINAL for r in runs)
        if ended or now > deadline:
            break
        time.sleep(0.5)
    print(
        f"[{kind}] drained {len(runs)} runs in {time.monotonic() - last_restart:.1f} s after the last restart",
        file=log,
        flush=True,
    )
    timelines = {inc: api.all(f"/api/v1/incidents/{inc}/timeline") for inc in poster.incidents}
    active = {}
    for i in range(len(poster.incidents)):
        name = world.system_name(i)
        r = api.patiently("GET", f"/api/v1/systems/{name}")
        if r.status_code == 200:
            active[name] = r.json()["state"]["active_version"]
    return Observed(
        runs=runs,
        incidents=len(poster.incidents),
        terminal_after=terminal_after,
        timelines=timelines,
        webhook=[],
        slack=[],
        pagerduty=[],
        mails=[],
        active_versions=active,
        decided_by=RESPONDER,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="replay this storm's schedule")
    parser.add_argument("--kills", type=int, default=25, help="kills per database")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument(
        "--bound",
        type=float,
        default=300,
        help="seconds after the last restart for every run to end",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--json", type=Path, default=None, help="also write the reports here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    print(f"kill storm seed={seed} (replay: --seed {seed})", flush=True)
    outcomes = []
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        workdir = Path(tempfile.mkdtemp(prefix=f"defib-storm-{kind}-"))
        try:
            outcome = storm(kind, seed, args.kills, workdir, args.bound, sys.stdout)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                print(f"[{kind}] logs kept in {workdir}")
        outcomes.append(outcome)
        head = f"[{kind}] {'PASS' if outcome.report.ok else 'FAIL'} in {outcome.wall_seconds:.0f} s"
        print(render(outcome.report, [head]), flush=True)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    o.kind: {
                        **o.report.figures,
                        "wall_seconds": round(o.wall_seconds),
                        "violations": o.report.violations,
                    }
                    for o in outcomes
                },
                indent=2,
                default=str,
            )
        )
    ok = all(o.report.ok for o in outcomes)
    print(f"kill storm seed={seed}: {'PASS' if ok else 'FAIL'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
