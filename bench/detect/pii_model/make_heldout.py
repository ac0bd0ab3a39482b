"""Write the synthetic held-out set for PERSON/ADDRESS/LOCATION/DATE_OF_BIRTH (eval format).

Its templates (`synth.HELDOUT` and `templates2.HELDOUT_MORE`) are disjoint from the training
ones; its nationality words, brands and place-or-name words are the other half of each list;
30% of its names are spliced from two names so that no gazetteer lists them; it has its own
seed.

    bench/.venv-faker/bin/python bench/detect/pii_model/make_heldout.py \
        --out bench/results/pii_names_heldout.jsonl [--n 600] [--seed 20251]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=20251)
    ap.add_argument("--novel", type=float, default=0.3)
    args = ap.parse_args()
    rows = generate(args.n, args.seed, heldout=True, novel=args.novel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for i, s in enumerate(rows):
            fh.write(json.dumps(s.to_eval(f"heldout-{i:04d}"), ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: {len(rows)} texts")


if __name__ == "__main__":
    main()
