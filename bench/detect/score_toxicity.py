"""Precision/recall of the toxicity detector on tests/detectors/data/toxicity_dev.jsonl.

Usage: python bench/detect/score_toxicity.py [--backend lexicon|profanity-check] [FILE]
A text counts as flagged when the detector returns at least one finding.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from defib.detectors import get_detector

DEFAULT = Path(__file__).resolve().parents[2] / "tests/detectors/data/toxicity_dev.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file", nargs="?", default=str(DEFAULT))
    ap.add_argument("--backend", default="lexicon")
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    det = get_detector("toxicity", backend=args.backend)
    tp = fp = fn = tn = 0
    errors = []
    for line in Path(args.file).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        flagged = bool(det.detect(row["text"]))
        tp += flagged and row["toxic"]
        fp += flagged and not row["toxic"]
        fn += (not flagged) and row["toxic"]
        tn += (not flagged) and not row["toxic"]
        if flagged != row["toxic"]:
            errors.append(("FP" if flagged else "FN", row["text"]))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    if args.show_errors:
        for kind, text in errors:
            print(f"  {kind} {text}")
    print(
        f"backend={args.backend} precision={p:.3f} recall={r:.3f} f1={f1:.3f} "
        f"tp={tp} fp={fp} fn={fn} tn={tn} n={tp + fp + fn + tn}"
    )


if __name__ == "__main__":
    main()
