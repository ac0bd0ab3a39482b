"""Precision/recall of the toxicity detector on tests/detectors/data/toxicity_dev.jsonl or
another {"text","toxic"[,"source"]} JSONL file (e.g. the public dev split written by
bench/train/toxicity_data.py to bench/results/toxicity_pubdev.jsonl).

Usage: python bench/detect/score_toxicity.py [--backend model|lexicon|profanity-check] [FILE]
A text counts as flagged when the detector returns at least one finding. Prints the
false-positive rate (share of clean texts flagged) and, when rows carry "source", one line
per source plus the false-positive rate on the social-media sources alone (every source but
HaluEval's chatbot and Wikipedia text, which is easy and would otherwise flatter the total).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from defib.detectors import get_detector

NOT_SOCIAL = frozenset({"halueval", "synthetic", "-"})
DEFAULT = Path(__file__).resolve().parents[2] / "tests/detectors/data/toxicity_dev.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file", nargs="?", default=str(DEFAULT))
    ap.add_argument("--backend", default="model")
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    det = get_detector("toxicity", backend=args.backend, min_score=args.min_score)
    tp = fp = fn = tn = 0
    errors = []
    per_source: dict[str, list[int]] = {}
    for line in Path(args.file).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        flagged = bool(det.detect(row["text"]))
        tp += flagged and row["toxic"]
        fp += flagged and not row["toxic"]
        fn += (not flagged) and row["toxic"]
        tn += (not flagged) and not row["toxic"]
        cell = per_source.setdefault(row.get("source", "-"), [0, 0, 0, 0])
        cell[(0 if row["toxic"] else 2) + (0 if flagged else 1)] += 1
        if flagged != row["toxic"]:
            errors.append(("FP" if flagged else "FN", row["text"]))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    if args.show_errors:
        for kind, text in errors:
            print(f"  {kind} {text}")
    fpr = fp / (fp + tn) if fp + tn else 0.0
    if len(per_source) > 1:
        for source, (s_tp, s_fn, s_fp, s_tn) in sorted(per_source.items()):
            s_r = s_tp / (s_tp + s_fn) if s_tp + s_fn else 0.0
            s_fpr = s_fp / (s_fp + s_tn) if s_fp + s_tn else 0.0
            s_p = s_tp / (s_tp + s_fp) if s_tp + s_fp else 0.0
            s_f1 = 2 * s_p * s_r / (s_p + s_r) if s_p + s_r else 0.0
            print(
                f"  {source}: precision={s_p:.3f} recall={s_r:.3f} f1={s_f1:.3f} "
                f"fpr={s_fpr:.3f} n={s_tp + s_fn + s_fp + s_tn}"
            )
        social = [c for s, c in per_source.items() if s not in NOT_SOCIAL]
        if social:
            s_fp = sum(c[2] for c in social)
            s_clean = sum(c[2] + c[3] for c in social)
            print(f"  social-media clean texts: fpr={s_fp / max(1, s_clean):.3f} n={s_clean}")
    print(
        f"backend={args.backend} precision={p:.3f} recall={r:.3f} f1={f1:.3f} fpr={fpr:.3f} "
        f"tp={tp} fp={fp} fn={fn} tn={tn} n={tp + fp + fn + tn}"
    )


if __name__ == "__main__":
    main()
