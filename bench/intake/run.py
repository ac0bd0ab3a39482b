#!/usr/bin/env python3
"""Intake benchmark: defib vs Prometheus Alertmanager, same wrk script, same bodies.

Stdlib only. Each measurement gets a fresh server (fresh Alertmanager storage dir, fresh
defib data dir, fresh PostgreSQL database), a short warm-up, then the measured wrk run.
Servers are interleaved inside each (layout, scenario) so that they see the same machine
load. Prints a markdown table; writes every raw result as JSON lines to $BENCH_RESULTS.

Environment (all optional):
  BENCH_SCENARIOS    same,unique,batch50,service,storm   (service = a new incident per alert;
                     storm = BENCH_STORM_ALERTS over BENCH_STORM_FINGERPRINTS, see storm.py)
  BENCH_LAYOUTS      pinned                        (pinned: wrk on core 0, server on core 1;
                     shared: both on both cores)
  BENCH_SERVERS      alertmanager,defib-sqlite,defib-pg (also floor-http, floor-classify:
                     bench/intake/floor.py, the floor under defib on the same uvicorn)
  BENCH_DURATION     seconds per measured run (10)
  BENCH_DURATION_BATCH50  seconds for the batch50 scenario (max(30, BENCH_DURATION))
  BENCH_WARMUP       seconds of warm-up before it (2)
  BENCH_CONNECTIONS  wrk connections (32)
  BENCH_THREADS      wrk threads (2)
  BENCH_PG           base URL (postgresql://postgres@127.0.0.1:5432)
  BENCH_DEFIB_ARGS   extra `defib serve` arguments (e.g. --no-worker)
  BENCH_STORM_ALERTS 100000, BENCH_STORM_FINGERPRINTS 50, BENCH_STORM_BATCH 50 (alerts per
                     request), BENCH_STORM_CONNECTIONS 32
  BENCH_RESULTS      JSON lines output (bench/intake/results/<time>.jsonl)
  DEFIB              the defib executable (.venv/bin/defib)
  ALERTMANAGER       the alertmanager executable (prometheus-alertmanager)
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LUA = HERE / "alerts.lua"

SCENARIOS = {
    # name: (BENCH_MODE, alerts per request, description)
    "same": ("same", 1, "the same alert repeated"),
    "unique": ("unique", 1, "a new alert per request (merges into one incident)"),
    "batch50": ("unique", 50, "fifty new alerts per request"),
    "service": ("service", 1, "a new alert per request, new service (new incident each)"),
    # Not wrk: storm.py posts a fixed number of alerts (see measure_storm).
    "storm": ("storm", 50, "100,000 alerts over 50 fingerprints, as fast as the sender can"),
}
T0 = int(time.time())  # one startsAt for every run of this process
AM_CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, rss_kb(self.pid) or 0)
            self._halt.wait(self.every)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        self.peak = max(self.peak, rss_kb(self.pid) or 0)
        return self.peak


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not come up: {url}")
        time.sleep(0.1)


@dataclass
class Server:
    kind: str
    layout: str
    work: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    token: str = "none"
    db_name: str | None = None
    pg_base: str = ""
    # Alertmanager has no storm limits; the storm scenario keeps defib's defaults.
    lift_storm_limits: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        prefix = ["taskset", "-c", "1"] if self.layout == "pinned" else []
        log = open(self.work / "server.log", "wb")
        if self.kind == "alertmanager":
            (self.work / "am.yml").write_text(AM_CONFIG)
            cmd = [
                env("ALERTMANAGER", "prometheus-alertmanager"),
                f"--config.file={self.work / 'am.yml'}",
                f"--storage.path={self.work / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ]
            self.proc = subprocess.Popen(prefix + cmd, stdout=log, stderr=log, cwd=self.work)
            wait_http(self.url + "/-/ready")
            return
        if self.kind.startswith("floor-"):
            python = env("DEFIB", str(REPO / ".venv/bin/defib")).rsplit("/", 1)[0] + "/python"
            mode = self.kind.removeprefix("floor-")
            cmd = [python, "-m", "bench.intake.floor", "--mode", mode, "--port", str(self.port)]
            self.proc = subprocess.Popen(prefix + cmd, stdout=log, stderr=log, cwd=REPO)
            wait_http(self.url + "/-/ready")
            return
        e = dict(os.environ)
        e["DEFIB_DATA_DIR"] = str(self.work / "data")
        # Alertmanager has no storm limits: lift defib's so every alert is correlated one
        # by one and opens its incident, as before (docs/security.md, storm protection).
        if self.lift_storm_limits:
            e["DEFIB_STORM"] = json.dumps(
                {
                    "max_alerts_per_request": 1_000_000,
                    "max_new_incidents_per_request": 1_000_000,
                    "max_new_incidents_per_source_per_minute": 1_000_000_000,
                    "playbook_runs_per_system_per_minute": 1_000_000_000,
                }
            )
        e.pop("DEFIB_DATABASE_URL", None)
        if self.kind == "defib-pg":
            self.db_name = f"defib_bench_{os.getpid()}_{self.port}"
            subprocess.run(
                ["createdb", "-h", "127.0.0.1", "-U", "postgres", self.db_name], check=True
            )
            e["DEFIB_DATABASE_URL"] = f"{self.pg_base}/{self.db_name}"
        defib = env("DEFIB", str(REPO / ".venv/bin/defib"))
        cmd = [defib, "serve", "--port", str(self.port), *shlex.split(env("BENCH_DEFIB_ARGS", ""))]
        self.proc = subprocess.Popen(prefix + cmd, stdout=log, stderr=log, cwd=self.work, env=e)
        wait_http(self.url + "/healthz")
        self.token = (self.work / "data" / "admin-token").read_text().strip()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pin_pg_backends(self) -> int:
        """In the pinned layout the database is part of the server: its backends go to core 1."""
        if self.kind != "defib-pg" or self.layout != "pinned":
            return 0
        pids = self.psql(
            f"select pid from pg_stat_activity where datname = '{self.db_name}'", "postgres"
        ).split()
        for p in pids:
            subprocess.run(["taskset", "-pc", "1", p], capture_output=True)
        return len(pids)

    def psql(self, sql: str, db: str | None = None) -> str:
        out = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                db or self.db_name or "postgres",
                "-At",
                "-F",
                "|",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def counts(self) -> dict[str, int]:
        """Rows stored so far: alerts, incidents, sum(alert_count), per-action alert counts."""
        if self.kind == "alertmanager":
            with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
                text = r.read().decode()
            held = 0.0  # every state: active, suppressed, unprocessed
            for line in text.splitlines():
                if line.startswith("alertmanager_alerts{"):
                    held += float(line.split()[-1])
            return {"alerts": int(held)}
        if self.kind.startswith("floor-"):
            with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
                return {"alerts": int(r.read().decode().split()[-1])}
        queries = {
            "alerts": "select count(*) from alerts",
            "incidents": "select count(*) from incidents",
            "alert_count_sum": "select coalesce(sum(alert_count), 0) from incidents",
            "folded": "select count(*) from alerts where action in ('created','merged','reopened')",
        }
        result: dict[str, int] = {}
        if self.kind == "defib-sqlite":
            con = sqlite3.connect(f"file:{self.work / 'data' / 'defib.db'}?mode=ro", uri=True)
            try:
                for k, q in queries.items():
                    result[k] = int(con.execute(q).fetchone()[0])
            finally:
                con.close()
        else:
            for k, q in queries.items():
                result[k] = int(self.psql(q))
        return result

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.db_name:
            subprocess.run(
                [
                    "dropdb",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "--if-exists",
                    "--force",
                    self.db_name,
                ],
                capture_output=True,
            )


def run_wrk(server: Server, scenario: str, seconds: float, nonce: str, out: Path) -> dict:
    mode, batch, _ = SCENARIOS[scenario]
    prefix = ["taskset", "-c", "0"] if server.layout == "pinned" else []
    e = dict(os.environ)
    e.update(
        BENCH_MODE=mode,
        BENCH_BATCH=str(batch),
        BENCH_TOKEN=server.token,
        BENCH_NONCE=nonce,
        BENCH_OUT=str(out),
        BENCH_T0=str(T0),
    )
    cmd = [
        *prefix,
        "wrk",
        f"-t{env('BENCH_THREADS', '2')}",
        f"-c{env('BENCH_CONNECTIONS', '32')}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(LUA),
        server.url,
    ]
    proc = subprocess.run(cmd, env=e, capture_output=True, text=True, cwd=HERE)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    result = json.loads(out.read_text())
    result["stderr"] = proc.stderr.strip()[:600]
    return result


def settled(server: Server, timeout: float = 180.0) -> dict[str, int]:
    """Counts once the server has finished what was in flight: two equal reads 0.5 s apart
    while the server process used under 15% of a core (a group commit may hold hundreds of
    alerts in one open transaction, invisible to the count until it commits)."""
    deadline = time.monotonic() + timeout
    last = server.counts()
    tick = os.sysconf("SC_CLK_TCK")
    while time.monotonic() < deadline:
        c0 = cpu_ticks(server.pid)
        time.sleep(0.5)
        busy = (cpu_ticks(server.pid) - c0) / tick / 0.5
        now = server.counts()
        if now == last and busy < 0.15:
            return now
        last = now
    raise RuntimeError(f"server still busy {timeout:.0f}s after the run; counts {last}")


def measure_storm(server: Server, row: dict, work: Path) -> None:
    """The storm: storm.py posts every alert, then the server must hold each of them, in
    exactly one incident per fingerprint (defib) or one alert each (Alertmanager)."""
    n = int(env("BENCH_STORM_ALERTS", "100000"))
    fps = int(env("BENCH_STORM_FINGERPRINTS", "50"))
    batch = int(env("BENCH_STORM_BATCH", "50"))
    conns = int(env("BENCH_STORM_CONNECTIONS", "32"))
    row.update(batch=batch, storm_alerts=n, storm_fingerprints=fps, connections=conns)
    prefix = ["taskset", "-c", "0"] if server.layout == "pinned" else []
    row["pg_backends_pinned"] = server.pin_pg_backends()
    row["rss_before_kb"] = rss_kb(server.pid)
    row["load_before"] = loadavg()
    before = server.counts()
    sampler = RssSampler(server.pid)
    sampler.start()
    cpu0, t0 = cpu_ticks(server.pid), time.monotonic()
    proc = subprocess.run(
        [
            *prefix,
            sys.executable,
            str(HERE / "storm.py"),
            server.url,
            server.token,
            f"--alerts={n}",
            f"--fingerprints={fps}",
            f"--batch={batch}",
            f"--conns={conns}",
            f"--nonce=s{server.port}",
        ],
        capture_output=True,
        text=True,
    )
    cpu1, t1 = cpu_ticks(server.pid), time.monotonic()
    if not proc.stdout.strip():
        raise RuntimeError(f"storm.py failed: {proc.stderr[-600:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    row["rss_peak_kb"] = sampler.stop()
    row["server_cpu"] = round((cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") / (t1 - t0), 2)
    t2 = time.monotonic()
    after = settled(server)
    row["drain_s"] = round(time.monotonic() - t2, 1)
    row["rss_after_kb"] = rss_kb(server.pid)
    row.update(
        requests=res["requests"],
        ok2xx=res["ok2xx"],
        non2xx=res["non2xx"],
        socket_errors=0,
        storm_seconds=res["seconds"],
        alerts_per_s=n / res["seconds"],
        req_per_s=res["requests"] / res["seconds"],
        p50_ms=res["p50_ms"],
        p99_ms=res["p99_ms"],
        max_ms=res["p99_ms"],
        stored_before=before,
        stored_after=after,
        duration_s=res["seconds"],
        stored_per_s=(after["alerts"] - before["alerts"])
        / max(res["seconds"] + row["drain_s"] - 0.5, res["seconds"]),
    )
    problems = []
    if res["non2xx"] or res["ok2xx"] * batch < n:
        problems.append(f"{res['non2xx']} non-2xx")
    if after["alerts"] - before["alerts"] != n:
        problems.append(f"alerts +{after['alerts'] - before['alerts']}, expected +{n}")
    if server.kind.startswith("defib"):
        if after["incidents"] != fps:
            problems.append(f"{after['incidents']} incidents, expected {fps}")
        if after["alert_count_sum"] != n or after["folded"] != n:
            problems.append(
                f"sum(alert_count)={after['alert_count_sum']}, folded={after['folded']}, "
                f"expected {n}"
            )
    row["check"] = "ok" if not problems else "; ".join(problems)


def measure_wrk(
    server: Server, row: dict, work: Path, scenario: str, duration: float, warmup: float
) -> None:
    """A warm-up and a measured wrk run; the stored rows checked against wrk's 2xx."""
    batch = SCENARIOS[scenario][1]
    if warmup > 0:
        run_wrk(server, scenario, warmup, f"w{server.port}", work / "warmup.json")
    before = settled(server)
    row["pg_backends_pinned"] = server.pin_pg_backends()
    row["rss_before_kb"] = rss_kb(server.pid)
    row["load_before"] = loadavg()
    sampler = RssSampler(server.pid)
    sampler.start()
    cpu0, t0 = cpu_ticks(server.pid), time.monotonic()
    res = run_wrk(server, scenario, duration, f"m{server.port}", work / "wrk.json")
    cpu1, t1 = cpu_ticks(server.pid), time.monotonic()
    row["rss_peak_kb"] = sampler.stop()
    row["load_after"] = loadavg()
    row["server_cpu"] = round((cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") / (t1 - t0), 2)
    t2 = time.monotonic()
    after = settled(server)  # requests still in flight when wrk stopped
    row["drain_s"] = round(time.monotonic() - t2, 1)
    row["rss_after_kb"] = rss_kb(server.pid)
    secs = res["duration_us"] / 1e6
    row.update(
        requests=res["requests"],
        ok2xx=res["ok2xx"],
        non2xx=res["non2xx"],
        socket_errors=sum(res[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")),
        req_per_s=res["requests"] / secs,
        alerts_per_s=res["requests"] * batch / secs,
        p50_ms=res["p50_us"] / 1000,
        p99_ms=res["p99_us"] / 1000,
        max_ms=res["max_us"] / 1000,
        wrk_stderr=res["stderr"],
        stored_before=before,
        stored_after=after,
    )
    d_stored = after["alerts"] - before["alerts"]
    busy = secs + row["drain_s"]
    # Server side: alerts stored from the start of the run until the server went quiet.
    row["stored_per_s"] = d_stored / max(busy - 0.5, secs) if scenario != "same" else None
    row["check"] = check(server.kind, scenario, batch, res, before, after, row["connections"])


def measure(kind: str, layout: str, scenario: str, pg_base: str) -> dict:
    duration = float(env("BENCH_DURATION", "10"))
    if scenario == "batch50":  # defib answers a 50-alert request only after its group commits
        duration = float(env("BENCH_DURATION_BATCH50", str(max(duration, 30))))
    warmup = float(env("BENCH_WARMUP", "2"))
    _mode, batch, _ = SCENARIOS[scenario]
    work = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=env("BENCH_TMP", "/tmp")))
    server = Server(kind, layout, work, pg_base=pg_base, lift_storm_limits=scenario != "storm")
    row: dict = {
        "server": kind,
        "layout": layout,
        "scenario": scenario,
        "batch": batch,
        "duration_s": duration,
        "connections": int(env("BENCH_CONNECTIONS", "32")),
        "threads": int(env("BENCH_THREADS", "2")),
    }
    try:
        server.start()
        time.sleep(0.5)
        row["rss_start_kb"] = rss_kb(server.pid)
        if scenario == "storm":
            settled(server)
            measure_storm(server, row, work)
            return row
        measure_wrk(server, row, work, scenario, duration, warmup)
    except Exception as exc:  # report and go on with the matrix
        row["error"] = f"{type(exc).__name__}: {exc}"[:800]
    finally:
        server.stop()
        row["server_log_tail"] = tail(work / "server.log")
        logs = Path(env("BENCH_LOGS", str(HERE / "results" / "logs")))
        logs.mkdir(parents=True, exist_ok=True)
        log_copy = logs / f"{time.strftime('%H%M%S')}-{layout}-{scenario}-{kind}.log"
        shutil.copy(work / "server.log", log_copy)
        row["server_log"] = str(log_copy)
        text = log_copy.read_text(errors="replace")
        row["server_tracebacks"] = text.count("Traceback")
        shutil.rmtree(work, ignore_errors=True)
    return row


def tail(path: Path, n: int = 6) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def check(
    kind: str, scenario: str, batch: int, res: dict, before: dict, after: dict, conns: int
) -> str:
    """Every 2xx'd alert must be stored. Requests in flight when wrk stopped may add up to
    one request per connection more than wrk counted."""
    problems = []
    if res["non2xx"]:
        problems.append(f"{res['non2xx']} non-2xx")
    ok_alerts = res["ok2xx"] * batch
    slack = conns * batch
    d_alerts = after["alerts"] - before["alerts"]
    if kind.startswith("floor-"):
        # The floor keeps nothing: it counts what it received, re-deliveries too.
        if not ok_alerts <= d_alerts <= ok_alerts + slack:
            problems.append(f"alerts +{d_alerts} received for {ok_alerts} acknowledged")
    elif scenario == "same":
        # Identical bodies are re-deliveries: stored once (warm-up), never again.
        expect = 0
        if d_alerts != expect:
            problems.append(f"alerts +{d_alerts}, expected +0 (re-deliveries)")
    elif not ok_alerts <= d_alerts <= ok_alerts + slack:
        problems.append(f"alerts +{d_alerts} for {ok_alerts} acknowledged")
    if kind.startswith("defib"):
        d_inc = after["incidents"] - before["incidents"]
        if scenario in ("same", "unique", "batch50") and after["incidents"] != 1:
            problems.append(f"{after['incidents']} incidents, expected 1")
        if scenario == "service" and d_inc != d_alerts:
            problems.append(f"incidents +{d_inc} != alerts +{d_alerts}")
        if after["alert_count_sum"] != after["folded"]:
            problems.append(
                f"sum(alert_count)={after['alert_count_sum']} != folded alerts {after['folded']}"
            )
    return "ok" if not problems else "; ".join(problems)


def mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f}"


def table(rows: list[dict]) -> str:
    am = {
        (r["layout"], r["scenario"]): r
        for r in rows
        if r["server"] == "alertmanager" and "error" not in r
    }
    out = [
        "| layout | scenario | server | alerts/s (wrk 2xx) | ratio vs AM | stored/s | p50 ms "
        "| p99 ms | RSS MB start/before/peak/after | server CPU | non-2xx | stored check "
        "| load before |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|",
    ]
    storms = [r for r in rows if r["scenario"] == "storm"]
    rows = [r for r in rows if r["scenario"] != "storm"]
    for r in rows:
        if "error" in r:
            out.append(
                f"| {r['layout']} | {r['scenario']} | {r['server']} | ERROR | | | | | | | | "
                f"{' '.join(r['error'].split())[:160].replace('|', '/')} | |"
            )
            continue
        base = am.get((r["layout"], r["scenario"]))
        ratio = f"{r['alerts_per_s'] / base['alerts_per_s']:.3f}x" if base else "-"
        rss = "/".join(
            mb(r.get(k)) for k in ("rss_start_kb", "rss_before_kb", "rss_peak_kb", "rss_after_kb")
        )
        stored = r.get("stored_per_s")
        if stored is None and r["scenario"] != "same" and "drain_s" in r:
            d = r["stored_after"]["alerts"] - r["stored_before"]["alerts"]
            stored = d / max(r["duration_s"] + r["drain_s"] - 0.5, r["duration_s"])
        tb = f"; {r['server_tracebacks']} tracebacks in log" if r.get("server_tracebacks") else ""
        stored_s = "-" if stored is None else f"{stored:,.0f}"
        if r["requests"] == 0:
            lat = "no reply in run | no reply in run"
        else:
            lat = f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f}"
        out.append(
            f"| {r['layout']} | {r['scenario']} | {r['server']} | {r['alerts_per_s']:,.0f} | "
            f"{ratio} | {stored_s} | {lat} | {rss} | {r['server_cpu']} | "
            f"{r['non2xx']} | {r['check']}{tb} | {r['load_before']} |"
        )
    if storms:
        out += ["", storm_table(storms)]
    return "\n".join(out)


def storm_table(rows: list[dict]) -> str:
    """The storm: seconds from the first post to the last answer, beside Alertmanager's."""
    am = {r["layout"]: r for r in rows if r["server"] == "alertmanager" and "error" not in r}
    out = [
        "| layout | storm | server | seconds | alerts/s | time vs AM | p50 ms | p99 ms "
        "| RSS MB start/before/peak/after | server CPU | incidents | stored check | load before |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|",
    ]
    for r in rows:
        what = f"{r.get('storm_alerts', '?'):,} alerts / {r.get('storm_fingerprints', '?')} fp"
        if "error" in r:
            err = " ".join(r["error"].split())[:160].replace("|", "/")
            out.append(
                f"| {r['layout']} | {what} | {r['server']} | ERROR | | | | | | | | {err} | |"
            )
            continue
        base = am.get(r["layout"])
        ratio = f"{r['storm_seconds'] / base['storm_seconds']:.1f}x" if base else "-"
        rss = "/".join(
            mb(r.get(k)) for k in ("rss_start_kb", "rss_before_kb", "rss_peak_kb", "rss_after_kb")
        )
        incidents = r["stored_after"].get("incidents", "-")
        out.append(
            f"| {r['layout']} | {what} | {r['server']} | {r['storm_seconds']:.1f} | "
            f"{r['alerts_per_s']:,.0f} | {ratio} | {r['p50_ms']} | {r['p99_ms']} | {rss} | "
            f"{r['server_cpu']} | {incidents} | {r['check']} | {r['load_before']} |"
        )
    return "\n".join(out)


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so every `finally` stops its server and drops its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if len(sys.argv) == 3 and sys.argv[1] == "--table":  # re-render a results file
        print(table([json.loads(x) for x in Path(sys.argv[2]).read_text().splitlines() if x]))
        return 0
    for tool in ("wrk", "taskset", env("ALERTMANAGER", "prometheus-alertmanager")):
        if shutil.which(tool) is None:
            print(f"missing {tool}: run bench/intake/setup.sh", file=sys.stderr)
            return 2
    scenarios = env("BENCH_SCENARIOS", "same,unique,batch50,service,storm").split(",")
    layouts = env("BENCH_LAYOUTS", "pinned").split(",")
    servers = env("BENCH_SERVERS", "alertmanager,defib-sqlite,defib-pg").split(",")
    pg_base = env("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
    for s in scenarios:
        if s not in SCENARIOS:
            print(f"unknown scenario {s}; use {', '.join(SCENARIOS)}", file=sys.stderr)
            return 2
    results = Path(
        env("BENCH_RESULTS", str(HERE / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}.jsonl"))
    )
    results.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"# intake bench: {os.cpu_count()} cpus, load {loadavg()}, "
        f"{env('BENCH_DURATION', '10')}s runs, wrk -t{env('BENCH_THREADS', '2')} "
        f"-c{env('BENCH_CONNECTIONS', '32')}; raw results in {results}",
        file=sys.stderr,
    )
    rows = []
    with results.open("a") as fh:
        for layout in layouts:
            for scenario in scenarios:
                for kind in servers:
                    if scenario == "storm" and kind.startswith("floor-"):
                        continue  # the storm checks incidents, which the floor never opens
                    row = measure(kind, layout, scenario, pg_base)
                    rows.append(row)
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
                    brief = " ".join(row.get("error", "").split())[:300] or (
                        f"{row['alerts_per_s']:,.0f} alerts/s p50 {row['p50_ms']:.1f} ms "
                        f"p99 {row['p99_ms']:.1f} ms peak RSS {mb(row['rss_peak_kb'])} MB "
                        f"cpu {row['server_cpu']} check {row['check']} load {row['load_before']}"
                    )
                    print(f"  {layout:6} {scenario:8} {kind:13} {brief}", file=sys.stderr)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
