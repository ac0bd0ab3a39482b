"""Per-alert classification cost, in process (issue 31): the intake hot path's share.

Parses every payload of the given JSONL sets once, then times `Classifier.decide` on fresh
classifiers (no decision cache hits: each alert is seen once per classifier) over a few
rounds and prints the per-alert CPU time of this process (median and best; CPU time, not
wall time, because the machine is shared: other processes stretch wall time, not ours).
Not a test: numbers depend on the machine.

Run: .venv/bin/python bench/classify/time_classify.py [FILE.jsonl ...]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from defib.classify import Classifier
from defib.intake.formats import parse_payload

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETS = [
    ROOT / "tests" / "classify_data" / "published_alerts.jsonl",
    # The shared evaluation set lives outside the repository: EVAL names its folder.
    *([Path(os.environ["EVAL"]) / "alerts_dev.jsonl"] if os.environ.get("EVAL") else []),
    *sorted((ROOT / "tests" / "ingest" / "data").glob("*.jsonl")),
]
ROUNDS = 15


def main(paths: list[Path]) -> None:
    alerts = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                alerts.extend(parse_payload(json.loads(line)["payload"]))
    warm = Classifier()  # builds the rules and the backstop once, outside the timing
    for a in alerts:
        warm.decide(a)
    per_alert = []
    for _ in range(ROUNDS):
        clf = Classifier(rules=warm.rules, backstop=warm.backstop())
        t0 = time.process_time()
        for a in alerts:
            clf.decide(a)
        per_alert.append((time.process_time() - t0) / len(alerts))
    med = statistics.median(per_alert) * 1e6
    low = min(per_alert) * 1e6
    print(
        f"{len(alerts)} alerts, {ROUNDS} rounds: median {med:.0f} us/alert CPU (best {low:.0f} us)"
    )


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]] or DEFAULT_SETS)
