"""Build the toxicity training set and the public dev split (never trained on) from public
corpora fetched as git snapshots (the `fetch` tool puts them under /work/.mirror, or point
MIRROR at your own clones). Every source is pinned to a commit and recorded in SOURCES.

Usage: python bench/train/toxicity_data.py [--mirror DIR] [--out bench/results]
Writes toxicity_train.jsonl and toxicity_pubdev.jsonl: {"text","toxic","source"} per line.

The split is by a hash of the normalised text, so the same text never lands on both sides
and the split is stable across runs. Labels map as follows:
- davidson (MIT): hate speech or offensive -> toxic, neither -> clean;
- olid (OffensEval 2019 subtask A/B): offensive *and targeted* -> toxic; untargeted
  profanity and not-offensive -> clean (a swear word alone is not an attack);
- ethos (GPL-3.0, binary): isHate >= 0.5 -> toxic;
- halueval (MIT): user queries, ChatGPT answers and Wikipedia knowledge sentences -> clean,
  the kind of neutral text an LLM gateway carries;
- synthetic (bench/train/toxicity_synth.py, written here): training split only.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

from toxicity_synth import examples

SOURCES = {
    "davidson": (
        "t-davidson/hate-speech-and-offensive-language",
        "cb50f7e9eb855a99abc51423bf40df0e26d6fe30",
        "MIT",
    ),
    "olid": (
        "sandro272/SemEval2019-OffensEval",
        "51dde8c38b512d5fb536fd74b2afd3dc7ed73831",
        "OLID (Zampieri et al. 2019), research use; no license file in the copy",
    ),
    "ethos": (
        "intelligence-csd-auth-gr/Ethos-Hate-Speech-Dataset",
        "705258e118ce9611ebbd5ab2a4841b0066547293",
        "GPL-3.0",
    ),
    "halueval": ("RUCAIBox/HaluEval", "b7253db3cdaa0ab2c382f92b26b390109174f77e", "MIT"),
}
DEV_SHARE = 5  # one text in five goes to the dev split


def _show(mirror: Path, name: str, path: str) -> str:
    repo, commit, _ = SOURCES[name]
    gitdir = mirror / repo.replace("/", "+") / "repo"
    if (gitdir / ".git").is_dir():
        gitdir = gitdir / ".git"
    out = subprocess.run(
        ["git", "--git-dir", str(gitdir), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    )
    return out.stdout.decode("utf-8", errors="replace")


def _clean(text: str) -> str:
    """Strip the Twitter furniture that would otherwise become a feature of one source."""
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    text = re.sub(r"\bRT\b|@\w+|https?://\S+|\bURL\b", " ", text)
    return re.sub(r"\s+", " ", text).strip(" :")


def davidson(mirror: Path) -> Iterator[tuple[str, bool]]:
    rows = csv.DictReader(io.StringIO(_show(mirror, "davidson", "data/labeled_data.csv")))
    for row in rows:
        yield _clean(row["tweet"]), row["class"] in ("0", "1")


def olid(mirror: Path) -> Iterator[tuple[str, bool]]:
    untargeted = set()
    for line in _show(mirror, "olid", "bert_data_processed/subtask_b/original_train.tsv").split(
        "\n"
    )[1:]:
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1] == "1":  # subtask B: 0 targeted, 1 untargeted
            untargeted.add(parts[0])
    for path in ("bert_formal/subtask_a/original_train.tsv", "bert_formal/subtask_a/test.tsv"):
        for line in _show(mirror, "olid", path).split("\n")[1:]:
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1] in ("0", "1"):
                yield _clean(parts[2]), parts[1] == "1" and parts[0] not in untargeted


def ethos(mirror: Path) -> Iterator[tuple[str, bool]]:
    data = _show(mirror, "ethos", "ethos/ethos_data/Ethos_Dataset_Binary.csv")
    for row in csv.DictReader(io.StringIO(data), delimiter=";"):
        yield _clean(row["comment"]), float(row["isHate"]) >= 0.5


def halueval(mirror: Path) -> Iterator[tuple[str, bool]]:
    for line in _show(mirror, "halueval", "data/general_data.json").splitlines():
        row = json.loads(line)
        yield row["user_query"].strip(), False
        answer = row["chatgpt_response"].strip()
        # Long answers are cut to a paragraph: the gateway sees both, the model needs variety.
        yield answer.split("\n\n")[0][:600], False
    for line in _show(mirror, "halueval", "generation/qa/qa_multi-turn_data.json").splitlines():
        row = json.loads(line)
        for sentence in re.split(r"(?<=[.!?])\s*(?=[A-Z])", row["knowledge"]):
            if len(sentence) > 20:
                yield sentence.strip(), False
        yield row["question"].strip(), False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mirror", default=os.environ.get("MIRROR", "/work/.mirror"))
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    counts: dict[str, list[int]] = {}
    with (
        open(out / "toxicity_train.jsonl", "w", encoding="utf-8") as train,
        open(out / "toxicity_pubdev.jsonl", "w", encoding="utf-8") as dev,
    ):
        for name, reader in (
            ("davidson", davidson),
            ("olid", olid),
            ("ethos", ethos),
            ("halueval", halueval),
        ):
            for text, toxic in reader(Path(args.mirror)):
                key = re.sub(r"\W+", " ", text.lower()).strip()
                if len(key) < 3 or key in seen:
                    continue
                seen.add(key)
                is_dev = zlib.crc32(key.encode()) % DEV_SHARE == 0
                row = {"text": text, "toxic": toxic, "source": name}
                (dev if is_dev else train).write(json.dumps(row) + "\n")
                c = counts.setdefault(name, [0, 0, 0])
                c[0 if not is_dev else 1] += 1
                c[2] += toxic
        for text, toxic in examples():
            row = {"text": text, "toxic": toxic, "source": "synthetic"}
            train.write(json.dumps(row) + "\n")
    for name, (n_train, n_dev, n_toxic) in counts.items():
        print(f"{name}: train={n_train} dev={n_dev} toxic={n_toxic} ({SOURCES[name][2]})")


if __name__ == "__main__":
    main()
