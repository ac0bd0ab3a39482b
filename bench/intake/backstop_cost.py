"""What the classification backstop costs: build time, per-alert time, how often it runs.

The backstop (defib.classify.backstop) only runs for alerts the rules leave undecided, and
caches answers by text; this measures it on its own and inside `Classifier.decide`, on the
alert sets in tests/ingest/data (and the shared dev set when mounted). Prints a markdown
table on stdout.

    .venv/bin/python bench/intake/backstop_cost.py            (make bench-backstop)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from defib.classify import AlertView, Backstop, Classifier
from defib.classify.backstop import load_descriptions
from defib.intake.formats import parse_payload
from defib.intake.formats._common import DEFAULT_SYSTEM_LABELS
from defib.model import Alert

ROOT = Path(__file__).resolve().parents[2]
SETS = sorted((ROOT / "tests" / "ingest" / "data").glob("*.jsonl"))
DEV = ROOT.parent / "shared" / "eval" / "alerts_dev.jsonl"


def _alerts() -> list[Alert]:
    out: list[Alert] = []
    for path in [*SETS, *([DEV] if DEV.exists() else [])]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.extend(parse_payload(json.loads(line)["payload"]))
    return out


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    text = resources.files("defib.rules").joinpath("taxonomy.yaml").read_text("utf-8")
    data = load_descriptions(text)
    build_ms = _median_ms(lambda: Backstop.from_mapping(data), 5)

    alerts = _alerts()
    texts = [AlertView(a, DEFAULT_SYSTEM_LABELS).text for a in alerts]
    backstop = Backstop.from_mapping(data)
    uncached: list[float] = []
    for t in texts:
        t0 = time.perf_counter()
        backstop.score(t)
        uncached.append((time.perf_counter() - t0) * 1000)
    cached_ms = _median_ms(lambda: [backstop.nearest(t) for t in texts], 5) / len(texts)

    with_bs = Classifier(inspector=lambda _s: None)
    rules_only = Classifier(inspector=lambda _s: None, backstop=False)
    for a in alerts:  # warm both (rules compiled, backstop built)
        with_bs.decide(a)
        rules_only.decide(a)
    stages = [with_bs.analyse(a).stage for a in alerts]
    # The backstop runs for alerts the rules leave undecided (not gated, not resolved).
    reached = sum(
        1 for a in alerts if (r := rules_only.analyse(a)).type is None and r.stage == "scores"
    )
    per_rules = _median_ms(lambda: [rules_only.decide(a) for a in alerts], 5) / len(alerts)
    per_bs = _median_ms(lambda: [with_bs.decide(a) for a in alerts], 5) / len(alerts)

    print(f"| measure (n={len(alerts)} alerts) | value |")
    print("| --- | --- |")
    print(f"| backstop build (median of 5) | {build_ms:.1f} ms |")
    print(f"| backstop per alert, uncached, median | {statistics.median(uncached):.3f} ms |")
    print(f"| backstop per alert, uncached, max | {max(uncached):.3f} ms |")
    print(f"| backstop per alert, cached | {cached_ms:.4f} ms |")
    print(f"| alerts that reach the backstop | {reached} ({reached / len(alerts):.0%}) |")
    print(
        f"| typed by the backstop / opened for triage | {stages.count('backstop')} / "
        f"{stages.count('triage')} |"
    )
    print(f"| decide per alert, rules only | {per_rules:.3f} ms |")
    print(f"| decide per alert, with backstop (warm cache) | {per_bs:.3f} ms |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
