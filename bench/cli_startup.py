"""How long `defib --help` and every subcommand's `--help` take (goals: the top level under
200 ms, every subcommand under 300 ms).

Run: `make bench-cli` (or `.venv/bin/python bench/cli_startup.py --runs 20`). Prints the
median and the best of N runs of each command, and `python -c pass` as the floor the
interpreter itself costs on this machine. The machine is shared: compare the best times.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_MS = 200.0
SUBCOMMAND_GOAL_MS = 300.0


def timed(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
