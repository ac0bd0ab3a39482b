"""`python -m defib.detectors pii|toxicity|grounding [FILE|-]`: the `defib detect` JSONL
commands with argparse instead of Typer, for the lowest start-up time in batch runs."""

from __future__ import annotations

import argparse
import sys

from defib.detectors import _jsonl


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run one command, return the exit status."""
    ap = argparse.ArgumentParser(prog="python -m defib.detectors", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("pii", "toxicity", "grounding"):
        p = sub.add_parser(name)
        p.add_argument("file", nargs="?", default="-")
        p.add_argument("--min-score", type=float, default=0.5)
        if name == "pii":
            p.add_argument("--types", default=None)
        if name == "toxicity":
            p.add_argument("--backend", default="model")
    args = ap.parse_args(argv)
    try:
        if args.command == "pii":
            _jsonl.run_pii(args.file, _jsonl.parse_types(args.types), args.min_score)
        elif args.command == "toxicity":
            _jsonl.run_toxicity(args.file, args.backend, args.min_score)
        else:
            _jsonl.run_grounding(args.file, args.min_score)
    except _jsonl.Failed as e:
        print(e, file=sys.stderr)
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
