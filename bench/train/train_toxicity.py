"""Train the toxicity model shipped in src/defib/detectors/models/ (logistic regression over
defib's own hashed features, so inference needs no scikit-learn).

Usage: python bench/train/train_toxicity.py [--data bench/results] [--bits 18] [--c 4]
Reads toxicity_train.jsonl (bench/train/toxicity_data.py); toxicity_pubdev.jsonl and
toxicity_ood.jsonl are never read here. A tenth of the training set is held back to pick the decision threshold: the
highest-F1 threshold whose false-positive rate there stays under --max-fpr, that rate counted
on the social-media clean texts only (HaluEval's chatbot and Wikipedia text is almost never
flagged and would let the threshold drop until tweets are over-flagged). Deterministic:
the same data and arguments give the same weights (toxicity.json records their sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import zlib
from array import array
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from toxicity_data import SOURCES

from defib.detectors.toxicity import BITS, featurise

NOT_SOCIAL = frozenset({"halueval", "synthetic"})  # kept out of the threshold's FPR
MODELS = Path(__file__).resolve().parents[2] / "src/defib/detectors/models"


def matrix(texts: list[str], bits: int) -> csr_matrix:
    rows, cols, vals = [], [], []
    for r, text in enumerate(texts):
        _, groups, _ = featurise(text, bits)
        feats = [f for g in groups for f in g]
        scale = 1.0 / math.sqrt(len(feats)) if feats else 0.0
        for f in feats:
            rows.append(r)
            cols.append(f)
            vals.append(scale)
    # Duplicate (row, col) pairs sum, exactly as LinearModel.score sums repeated features.
    return csr_matrix((vals, (rows, cols)), shape=(len(texts), 1 << bits), dtype=np.float64)


def pick_threshold(p: np.ndarray, y: np.ndarray, max_fpr: float, fpr_rows: np.ndarray) -> float:
    """Best F1 with the false-positive rate on the clean `fpr_rows` at most `max_fpr`."""
    best_t, best_f1 = 0.5, -1.0
    for t in np.arange(0.2, 0.95, 0.01):
        pred = p >= t
        tp = int((pred & y).sum())
        fp = int((pred & ~y).sum())
        fn = int((~pred & y).sum())
        fpr = int((pred & ~y & fpr_rows).sum()) / max(1, int((~y & fpr_rows).sum()))
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if fpr <= max_fpr and f1 > best_f1:
            best_t, best_f1 = float(t), f1
    return round(best_t, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="bench/results")
    ap.add_argument("--bits", type=int, default=BITS)
    ap.add_argument("--c", type=float, default=4.0)
    ap.add_argument("--max-fpr", type=float, default=0.10)
    ap.add_argument(
        "--weights",
        default="synthetic=3",
        help="per-source sample weights, e.g. synthetic=3,davidson=0.5 (others 1)",
    )
    ap.add_argument("--out", default=str(MODELS))
    args = ap.parse_args()
    rows = [
        json.loads(line)
        for line in Path(args.data, "toxicity_train.jsonl").read_text("utf-8").splitlines()
    ]
    hold = [zlib.crc32(r["text"].encode()) % 10 == 0 for r in rows]
    fit_rows = [r for r, h in zip(rows, hold, strict=True) if not h]
    val_rows = [r for r, h in zip(rows, hold, strict=True) if h]
    x_fit = matrix([r["text"] for r in fit_rows], args.bits)
    y_fit = np.array([r["toxic"] for r in fit_rows], dtype=bool)
    clf = LogisticRegression(C=args.c, solver="liblinear", class_weight="balanced", max_iter=200)
    # The few written pattern examples would drown among 40k tweets at weight 1, and
    # Davidson's tweets (mostly swearing at women) would teach that a swear word is abuse.
    per_source = {k: float(v) for k, v in (kv.split("=") for kv in args.weights.split(",") if kv)}
    weight = np.array([per_source.get(r["source"], 1.0) for r in fit_rows])
    clf.fit(x_fit, y_fit, sample_weight=weight)
    x_val = matrix([r["text"] for r in val_rows], args.bits)
    y_val = np.array([r["toxic"] for r in val_rows], dtype=bool)
    p_val = clf.predict_proba(x_val)[:, 1]
    social = np.array([r["source"] not in NOT_SOCIAL for r in val_rows], dtype=bool)
    threshold = pick_threshold(p_val, y_val, args.max_fpr, social)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = array("f", clf.coef_[0].astype(np.float32).tolist()).tobytes()
    (out / "toxicity.f32").write_bytes(weights)
    trained = sorted({r["source"] for r in rows} - {"synthetic"})
    meta = {
        "bits": args.bits,
        "bias": float(clf.intercept_[0]),
        "threshold": threshold,
        "c": args.c,
        "max_fpr": args.max_fpr,
        "max_fpr_counted_on": "clean social-media texts of the threshold split",
        "source_weights": args.weights,
        "sha256": hashlib.sha256(weights).hexdigest(),
        "trained_on": {
            k: {"repo": v[0], "commit": v[1], "license": v[2]}
            for k, v in SOURCES.items()
            if k in trained
        },
        "held_out": {
            k: {"repo": v[0], "commit": v[1], "license": v[2]}
            for k, v in SOURCES.items()
            if k not in trained
        },
        "n_fit": len(fit_rows),
        "n_threshold": len(val_rows),
    }
    (out / "toxicity.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    pred = p_val >= threshold
    print(
        f"threshold={threshold} holdout: f1="
        f"{2 * (pred & y_val).sum() / max(1, pred.sum() + y_val.sum()):.3f} "
        f"fpr={(pred & ~y_val).sum() / max(1, (~y_val).sum()):.3f} social-media "
        f"fpr={(pred & ~y_val & social).sum() / max(1, (~y_val & social).sum()):.3f} "
        f"sha256={meta['sha256'][:12]}"
    )


if __name__ == "__main__":
    main()
