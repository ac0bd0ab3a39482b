"""Write the files the detector loads from the sources training uses.

`data/pii_lexicon.json.gz`: the gazetteer lists (`data/pii_gazetteer.json.gz`, which stays
the source and what training reads) folded into word -> bits, grouped by value.
`data/pii_tagger.bin.gz`: with --tagger-json, a tagger in the JSON format `train_tagger.py`
used to write (feature -> integer weights) converted to the flat binary format.

    .venv/bin/python bench/detect/pii_model/compile_data.py [--tagger-json OLD.json.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))

from defib.detectors.entities import (  # noqa: E402
    LEXICON_FILE,
    TAGGER_FILE,
    Lexicon,
    encode_tagger,
)

DATA = ROOT / "src/defib/detectors/data"


def write_gz(path: Path, raw: bytes) -> None:
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(raw)
    print(f"wrote {path}: {path.stat().st_size:,} bytes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--tagger-json", type=Path)
    args = ap.parse_args()
    lists = json.loads(gzip.decompress((DATA / "pii_gazetteer.json.gz").read_bytes()))
    compact = Lexicon.build(lists).compact()
    raw = json.dumps(compact, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    write_gz(DATA / LEXICON_FILE, raw.encode())
    if args.tagger_json:
        model = json.loads(gzip.decompress(args.tagger_json.read_bytes()))
        write_gz(
            DATA / TAGGER_FILE,
            encode_tagger(model["weights"], model["scale"], model["trained_on"]),
        )


if __name__ == "__main__":
    main()
