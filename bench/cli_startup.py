"""How long `defib --help`, every subcommand's `--help` and a list command take (goals: the
top level under 200 ms, every subcommand under 300 ms, `defib incidents list` under 500 ms).

Run: `make bench-cli` (or `.venv/bin/python bench/cli_startup.py --runs 20`). Prints the
median and the best of N runs of each command, and `python -c pass` as the floor the
interpreter itself costs on this machine. The list command runs against a `defib serve` the
script starts on a free port with a SQLite database in a temporary directory, holding
`--incidents` incidents; `--no-list` skips it. The machine is shared: compare the best times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

GOAL_MS = 200.0
SUBCOMMAND_GOAL_MS = 300.0
LIST_GOAL_MS = 500.0


def timed(argv: list[str], runs: int, env: Mapping[str, str] | None = None) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env
        )
        out.append((time.perf_counter() - start) * 1000)
    return out


def list_command(defib: str, runs: int, incidents: int) -> list[str]:
    """`defib incidents list` (table and --json) against a local `defib serve`."""
    import httpx

    from defib.testing import ServerProcess

    lines = []
    with tempfile.TemporaryDirectory(prefix="defib-bench-cli-") as tmp:
        work = Path(tmp)
        server = ServerProcess(work, env={"DEFIB_DATABASE_URL": f"sqlite:///{work / 'defib.db'}"})
        server.start()
        try:
            token = (work / ".defib" / "admin-token").read_text(encoding="utf-8").strip()
            headers = {"Authorization": f"Bearer {token}"}
            ids: list[str] = []
            for i in range(incidents):
                draft = {
                    "title": f"bench incident {i}",
                    "type": "hallucination",
                    "severity": "SEV3",
                    "affected_systems": ["support-bot"],
                }
                made = httpx.post(
                    f"{server.url}/api/v1/incidents", json=draft, headers=headers, timeout=30
                )
                made.raise_for_status()
                ids.append(made.json()["id"])
            # Their playbooks run in the server: timing starts once they have settled, so the
            # server does not compete with the CLI for the cores.
            deadline = time.monotonic() + 120
            while ids and time.monotonic() < deadline:
                planned = httpx.get(
                    f"{server.url}/api/v1/incidents/{ids[0]}/runs", headers=headers, timeout=30
                ).json()["items"]
                if all(r["status"] not in ("pending", "running") for r in planned):
                    ids.pop(0)
                else:
                    time.sleep(0.2)
            env = {
                **os.environ,
                "DEFIB_URL": server.url,
                "DEFIB_TOKEN": token,
                # Not this user's own `defib login`, nor a config file from their shell.
                "DEFIB_LOGIN_FILE": str(work / "no-login.json"),
            }
            env.pop("DEFIB_CONFIG", None)
            for label, argv in (
                (f"defib incidents list ({incidents})", [defib, "incidents", "list"]),
                ("defib incidents list --json", [defib, "incidents", "list", "--json"]),
            ):
                times = timed(argv, runs, env)
                median = statistics.median(times)
                lines.append(f"{label:28s} median {median:7.1f} ms   best {min(times):7.1f} ms")
                if not label.endswith("--json"):
                    verdict = "meets" if median < LIST_GOAL_MS else "MISSES"
                    lines.append(
                        f"defib incidents list {verdict} the {LIST_GOAL_MS:.0f} ms goal"
                        f" (median {median:.1f} ms, best {min(times):.1f} ms)"
                    )
        finally:
            server.stop()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--incidents", type=int, default=20, help="listed by the list command")
    parser.add_argument("--no-list", action="store_true", help="skip the list command")
    args = parser.parse_args()
    defib = shutil.which("defib", path=str(Path(sys.executable).parent)) or "defib"
    cases = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "defib --help": [defib, "--help"],
        "defib version": [defib, "version"],
    }
    from defib.cli import COMMANDS

    for name in COMMANDS:
        cases[f"defib {name} --help"] = [defib, name, "--help"]
    top = 0.0
    slow: list[str] = []
    for label, argv in cases.items():
        times = timed(argv, args.runs)
        median = statistics.median(times)
        if label == "defib --help":
            top = median
        elif label.endswith("--help") and min(times) >= SUBCOMMAND_GOAL_MS:
            slow.append(label)
        print(f"{label:28s} median {median:7.1f} ms   best {min(times):7.1f} ms")
    verdict = "meets" if top < GOAL_MS else "MISSES"
    print(f"defib --help {verdict} the {GOAL_MS:.0f} ms goal (median {top:.1f} ms)")
    if slow:
        print(f"over {SUBCOMMAND_GOAL_MS:.0f} ms at best: " + ", ".join(slow))
    else:
        print(f"every subcommand's --help is under {SUBCOMMAND_GOAL_MS:.0f} ms at best")
    if not args.no_list:
        for line in list_command(defib, args.runs, args.incidents):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
