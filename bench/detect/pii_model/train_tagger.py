"""Train the PERSON/ADDRESS/LOCATION tagger (`src/defib/detectors/data/pii_tagger.bin.gz`).

An averaged perceptron over `defib.detectors.entities.features`, greedy left to right, on
texts generated from our own templates (`synth.TRAIN`, Faker values); nothing else. Half
the training texts see a gazetteer with a random 30% of its names and places removed, so
the tagger also learns to find names it has no list entry for (context, shape, suffix).

    bench/.venv-faker/bin/python bench/detect/pii_model/train_tagger.py [--n 30000] [--epochs 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from synth import Sample, generate  # noqa: E402

from defib.detectors.entities import (  # noqa: E402
    LABELS,
    TAGGER_FILE,
    Lexicon,
    Token,
    encode_tagger,
    features,
    tokenize,
)

OUT = ROOT / "src/defib/detectors/data" / TAGGER_FILE
GAZ = ROOT / "src/defib/detectors/data/pii_gazetteer.json.gz"
_TAG = {"PERSON": "PER", "LOCATION": "LOC", "ADDRESS": "ADR"}


def bio(toks: list[Token], s: Sample) -> list[str]:
    tags = ["O"] * len(toks)
    for kind, start, end in s.spans:
        short = _TAG.get(kind)
        if short is None:
            continue
        first = True
        for i, t in enumerate(toks):
            if t.start >= start and t.end <= end:
                tags[i] = ("B-" if first else "I-") + short
                first = False
    return tags


class Perceptron:
    def __init__(self) -> None:
        n = len(LABELS)
        self.n = n
        self.w: dict[str, list[float]] = defaultdict(lambda: [0.0] * n)
        self.total: dict[str, list[float]] = defaultdict(lambda: [0.0] * n)
        self.stamp: dict[str, list[int]] = defaultdict(lambda: [0] * n)
        self.i = 0

    def predict(self, feats: list[str]) -> int:
        scores = [0.0] * self.n
        for f in feats:
            w = self.w.get(f)
            if w is not None:
                for k in range(self.n):
                    scores[k] += w[k]
        return max(range(self.n), key=scores.__getitem__)

    def update(self, truth: int, guess: int, feats: list[str]) -> None:
        self.i += 1
        if truth == guess:
            return
        for f in feats:
            w, tot, st = self.w[f], self.total[f], self.stamp[f]
            for k, delta in ((truth, 1.0), (guess, -1.0)):
                tot[k] += (self.i - st[k]) * w[k]
                st[k] = self.i
                w[k] += delta

    def averaged(self, min_abs: float) -> dict[str, list[float]]:
        out = {}
        for f, w in self.w.items():
            tot, st = self.total[f], self.stamp[f]
            avg = [(tot[k] + (self.i - st[k]) * w[k]) / self.i for k in range(self.n)]
            if max(abs(a) for a in avg) >= min_abs:
                out[f] = avg
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drop", type=float, default=0.3, help="share of gazetteer names hidden")
    ap.add_argument("--min-weight", type=float, default=0.02)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.time()
    lists = json.loads(gzip.decompress(GAZ.read_bytes()))
    full = Lexicon.build(lists)
    r = random.Random(args.seed)
    reduced_lists = {
        k: [
            e
            for e in v
            if k not in ("first", "last", "city", "street_word") or r.random() >= args.drop
        ]
        for k, v in lists.items()
    }
    reduced = Lexicon.build(reduced_lists)
    samples = generate(args.n, args.seed)
    data = []
    for s in samples:
        lex = reduced if r.random() < 0.5 else full
        toks = tokenize(s.text, lex)
        data.append((toks, [LABELS.index(t) for t in bio(toks, s)]))
    print(f"{len(data)} texts, {sum(len(t) for t, _ in data)} tokens ({time.time() - t0:.0f}s)")
    model = Perceptron()
    for epoch in range(args.epochs):
        r.shuffle(data)
        wrong = total = 0
        for toks, gold in data:
            p1 = p2 = "<s>"
            for i in range(len(toks)):
                feats = features(toks, i, p1, p2)
                guess = model.predict(feats)
                model.update(gold[i], guess, feats)
                wrong += guess != gold[i]
                total += 1
                # Train on its own history, as it will run.
                p2, p1 = p1, LABELS[guess]
        print(f"epoch {epoch + 1}: token error {wrong / total:.4f} ({time.time() - t0:.0f}s)")
    weights = model.averaged(args.min_weight)
    scale = 1000
    rows = {f: [round(x * scale) for x in w] for f, w in sorted(weights.items())}
    trained_on = f"synth.TRAIN, {args.n} texts, seed {args.seed}, {args.epochs} epochs"
    # No file name or time in the gzip header: the same bytes wherever --out points.
    with args.out.open("wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as fh:
        fh.write(encode_tagger(rows, scale, trained_on))
    print(f"wrote {args.out}: {len(weights)} features, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
