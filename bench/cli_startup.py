"""How long `defib --help` and a few `--help` of subcommands take (goal: top level < 200 ms).

Run: `make bench-cli` (or `.venv/bin/python bench/cli_startup.py --runs 20`). Prints the
median and the best of N runs of each command, and `python -c pass` as the floor the
interpreter itself costs on this machine.
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
        "defib runs --help": [defib, "runs", "--help"],
        "defib version": [defib, "version"],
    }
    top = 0.0
    for label, argv in cases.items():
        times = timed(argv, args.runs)
        median = statistics.median(times)
        if label == "defib --help":
            top = median
        print(f"{label:28s} median {median:7.1f} ms   best {min(times):7.1f} ms")
    verdict = "meets" if top < GOAL_MS else "MISSES"
    print(f"defib --help {verdict} the {GOAL_MS:.0f} ms goal (median {top:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
