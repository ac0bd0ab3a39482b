"""Public grounding pairs from HaluEval's QA set (RUCAIBox/HaluEval, MIT; pinned below):
each item's knowledge passage is the context, its right answer a grounded response and its
hallucinated answer an ungrounded one (expected: one finding of any type on the answer).

Usage: python bench/train/grounding_data.py [--mirror DIR] [--out bench/results]
Writes grounding_pubdev.jsonl (half the items, by a hash of the question: the split that is
only ever scored) and grounding_tune.jsonl (the other half: the one whose errors were read
while writing the rules). Format as tests/detectors/data/grounding_dev.jsonl, with
expected type "*" (any).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import zlib
from pathlib import Path

REPO, COMMIT = "RUCAIBox/HaluEval", "b7253db3cdaa0ab2c382f92b26b390109174f77e"
PATH = "generation/qa/qa_multi-turn_data.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--mirror",
        default=os.environ.get("MIRROR", str(Path(__file__).resolve().parents[1] / ".mirror")),
    )
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    gitdir = Path(args.mirror) / REPO.replace("/", "+") / "repo"
    raw = subprocess.run(
        ["git", "--git-dir", str(gitdir), "show", f"{COMMIT}:{PATH}"],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "dev": open(out / "grounding_pubdev.jsonl", "w", encoding="utf-8"),
        "tune": open(out / "grounding_tune.jsonl", "w", encoding="utf-8"),
    }
    for n, line in enumerate(raw.splitlines()):
        row = json.loads(line)
        split = "dev" if zlib.crc32(row["question"].encode()) % 2 == 0 else "tune"
        for kind, answer, expected in (
            ("right", row["right_answer"], []),
            (
                "halu",
                row["hallucinated_answer"],
                [{"type": "*", "text": row["hallucinated_answer"]}],
            ),
        ):
            rec = {
                "id": f"halueval-qa-{n}-{kind}",
                "response": answer,
                "context": row["knowledge"],
                "question": row["question"],
                "expected": expected,
            }
            files[split].write(json.dumps(rec) + "\n")
    for f in files.values():
        f.close()


if __name__ == "__main__":
    main()
