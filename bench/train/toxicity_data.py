"""Build the toxicity training set, the public dev split (never trained on) and the
out-of-distribution set (whole sources never trained on) from public corpora fetched as git
snapshots (clones under bench/.mirror/<owner>+<name>/repo at the pinned commits, or point MIRROR
at a directory of clones laid out the same way). Every source is pinned to a commit and
recorded in SOURCES.

Usage: python bench/train/toxicity_data.py [--mirror DIR] [--out bench/results]
           [--hold-out ethos,stormfront]
Writes {"text","toxic","source"} JSONL:
- toxicity_train.jsonl: four texts in five of each trained source, plus the synthetic set;
- toxicity_pubdev.jsonl: the fifth text of each trained source (in-distribution dev split);
- toxicity_ood.jsonl: every text of the held-out sources (out-of-distribution: no text of
  these collections, nor any from the same collection effort, is trained on).

The dev split is by a hash of the normalised text, so the same text never lands on both
sides and the split is stable across runs. Labels map as follows:
- davidson (MIT): hate speech or offensive -> toxic, neither -> clean;
- olid (OffensEval 2019 subtask A/B): offensive *and targeted* -> toxic; untargeted
  profanity and not-offensive -> clean (a swear word alone is not an attack);
- ethos (GPL-3.0, binary; YouTube and Reddit comments): isHate >= 0.5 -> toxic. Held out by
  default;
- stormfront (de Gibert et al. 2018, CC BY-SA 3.0 ES; forum sentences): hate -> toxic,
  noHate -> clean; `relation` (needs the neighbouring sentence) and `idk/skip` are dropped.
  Held out by default;
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
    "stormfront": (
        "Vicomtech/hate-speech-dataset",
        "b802137e8314c38a8d4faa965f9908d6c8e7a84d",
        "CC BY-SA 3.0 ES",
    ),
    "halueval": ("RUCAIBox/HaluEval", "b7253db3cdaa0ab2c382f92b26b390109174f77e", "MIT"),
}
HOLD_OUT = "ethos,stormfront"  # whole sources kept for the out-of-distribution figure
DEV_SHARE = 5  # one text in five goes to the dev split


def _gitdir(mirror: Path, name: str) -> Path:
    """The git directory of a source: `fetch` leaves a bare repository at
    <owner>+<name>/repo (sometimes a clone with repo/.git); a plain clone at <owner>+<name>
    or <name> works too."""
    repo = SOURCES[name][0]
    for cand in (
        mirror / repo.replace("/", "+") / "repo",
        mirror / repo.replace("/", "+"),
        mirror / repo.split("/")[1],
    ):
        if (cand / ".git").is_dir():
            return cand / ".git"
        if (cand / "objects").is_dir():
            return cand
    raise SystemExit(f"{name}: no git snapshot of {repo} under {mirror} (fetch github:{repo})")


def _show(mirror: Path, name: str, path: str) -> str:
    return _show_many(mirror, name, [path])[0]


def _show_many(mirror: Path, name: str, paths: list[str]) -> list[str]:
    """Files at the pinned commit, read through one `git cat-file --batch` process."""
    commit = SOURCES[name][1]
    request = "".join(f"{commit}:{p}\n" for p in paths).encode()
    out = subprocess.run(
        ["git", "--git-dir", str(_gitdir(mirror, name)), "cat-file", "--batch"],
        input=request,
        check=True,
        capture_output=True,
    ).stdout
    texts, pos = [], 0
    for path in paths:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        if header[-1] == b"missing":
            raise SystemExit(f"{name}: {path} missing at {commit} (large file not in snapshot?)")
        size = int(header[2])
        texts.append(out[header_end + 1 : header_end + 1 + size].decode("utf-8", "replace"))
        pos = header_end + 1 + size + 1
    return texts


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


def stormfront(mirror: Path) -> Iterator[tuple[str, bool]]:
    meta = csv.DictReader(io.StringIO(_show(mirror, "stormfront", "annotations_metadata.csv")))
    labelled = [(r["file_id"], r["label"]) for r in meta if r["label"] in ("hate", "noHate")]
    paths = [f"all_files/{file_id}.txt" for file_id, _ in labelled]
    for text, (_, label) in zip(_show_many(mirror, "stormfront", paths), labelled, strict=True):
        yield _clean(text), label == "hate"


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
    ap.add_argument(
        "--mirror",
        default=os.environ.get("MIRROR", str(Path(__file__).resolve().parents[1] / ".mirror")),
    )
    ap.add_argument("--out", default="bench/results")
    ap.add_argument(
        "--hold-out",
        default=HOLD_OUT,
        help=f"sources kept whole for the out-of-distribution set (default {HOLD_OUT}; '' = none)",
    )
    args = ap.parse_args()
    held = {h for h in args.hold_out.split(",") if h}
    if not held <= set(SOURCES):
        raise SystemExit(f"unknown source in --hold-out; known: {', '.join(SOURCES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    counts: dict[str, list[int]] = {}
    with (
        open(out / "toxicity_train.jsonl", "w", encoding="utf-8") as train,
        open(out / "toxicity_pubdev.jsonl", "w", encoding="utf-8") as dev,
        open(out / "toxicity_ood.jsonl", "w", encoding="utf-8") as ood,
    ):
        for name, reader in (
            ("davidson", davidson),
            ("olid", olid),
            ("ethos", ethos),
            ("stormfront", stormfront),
            ("halueval", halueval),
        ):
            for text, toxic in reader(Path(args.mirror)):
                key = re.sub(r"\W+", " ", text.lower()).strip()
                if len(key) < 3 or key in seen:
                    continue
                seen.add(key)
                row = {"text": text, "toxic": toxic, "source": name}
                c = counts.setdefault(name, [0, 0, 0, 0])
                c[3] += toxic
                if name in held:
                    ood.write(json.dumps(row) + "\n")
                    c[2] += 1
                    continue
                is_dev = zlib.crc32(key.encode()) % DEV_SHARE == 0
                (dev if is_dev else train).write(json.dumps(row) + "\n")
                c[0 if not is_dev else 1] += 1
        for text, toxic in examples():
            row = {"text": text, "toxic": toxic, "source": "synthetic"}
            train.write(json.dumps(row) + "\n")
    for name, (n_train, n_dev, n_ood, n_toxic) in counts.items():
        print(
            f"{name}: train={n_train} dev={n_dev} ood={n_ood} toxic={n_toxic} ({SOURCES[name][2]})"
        )


if __name__ == "__main__":
    main()
