"""Precision/recall of the grounding detector on tests/detectors/data/grounding_dev.jsonl.

Usage: python bench/detect/score_grounding.py [FILE] [--show-errors]
A finding matches an expected claim of the same type when their spans overlap (one-to-one).
Also prints document-level P/R: a response is "ungrounded" if it has any expected finding.
An expected type "*" matches a finding of any type (public sets whose spans are not typed,
e.g. bench/results/grounding_pubdev.jsonl from bench/train/grounding_data.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from defib.detectors import get_detector

DEFAULT = Path(__file__).resolve().parents[2] / "tests/detectors/data/grounding_dev.jsonl"


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file", nargs="?", default=str(DEFAULT))
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    det = get_detector("grounding")
    tp = fp = fn = dtp = dfp = dfn = 0
    for line in Path(args.file).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = row["response"]
        gold = []
        for e in row["expected"]:
            i = text.find(e["text"])
            gold.append((e["type"], i, i + len(e["text"])))
        pred = [(f.type, f.start, f.end, f.text) for f in det.detect(text, context=row["context"])]
        used: set[int] = set()
        for pt, ps, pe, ptext in pred:
            hit = next(
                (
                    k
                    for k, (gt, gs, ge) in enumerate(gold)
                    if k not in used and gt in (pt, "*") and min(pe, ge) > max(ps, gs)
                ),
                None,
            )
            if hit is None:
                fp += 1
                if args.show_errors:
                    print(f"  FP {row['id']} {pt} {ptext!r}")
            else:
                used.add(hit)
                tp += 1
        for k, (gt, gs, ge) in enumerate(gold):
            if k not in used:
                fn += 1
                if args.show_errors:
                    print(f"  FN {row['id']} {gt} {text[gs:ge]!r}")
        dtp += bool(gold) and bool(pred)
        dfp += (not gold) and bool(pred)
        dfn += bool(gold) and not pred
    p, r, f = _prf(tp, fp, fn)
    dp, dr, df = _prf(dtp, dfp, dfn)
    print(f"claims: precision={p:.3f} recall={r:.3f} f1={f:.3f} tp={tp} fp={fp} fn={fn}")
    print(f"documents: precision={dp:.3f} recall={dr:.3f} f1={df:.3f}")


if __name__ == "__main__":
    main()
