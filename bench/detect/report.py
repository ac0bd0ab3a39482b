"""Run the PII benchmark for defib, Presidio (pattern recognizers only) and Presidio with
spaCy (its defaults: every recognizer plus spaCy NER) on the same texts, and print markdown
tables. Standard library only; each engine runs in its own interpreter.

    python bench/detect/report.py --defib-python .venv/bin/python \
        --presidio-python bench/.venv-presidio/bin/python --data FILE [--rounds 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKER = str(HERE / "bench_pii.py")
LABELS = {
    "defib": "defib",
    "presidio": "presidio (pattern recognizers, no NLP)",
    "presidio-spacy": "presidio + spaCy en_core_web_sm (defaults)",
}


def _run(python: str, *args: str) -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    out = subprocess.run([python, WORKER, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout), time.perf_counter() - t0


def _cli_wall(python: str, data: str) -> float:
    """Whole `python -m defib.detectors pii` run over the data set, start-up included."""
    payload = "".join(
        json.dumps({"id": r["id"], "text": r["text"]}) + "\n"
        for r in map(json.loads, Path(data).read_text(encoding="utf-8").splitlines())
    ).encode()
    t0 = time.perf_counter()
    subprocess.run(
        [python, "-m", "defib.cli.detect", "pii"], input=payload, check=True, capture_output=True
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--defib-python", default=sys.executable)
    ap.add_argument("--presidio-python", default=str(HERE.parent / ".venv-presidio/bin/python"))
    ap.add_argument("--no-spacy", action="store_true", help="skip Presidio with spaCy")
    ap.add_argument(
        "--data",
        required=True,
        help="JSONL in the eval format (run.sh generates one: bench/detect/make_data.py).",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()

    engines = {"defib": args.defib_python, "presidio": args.presidio_python}
    if not args.no_spacy:
        engines["presidio-spacy"] = args.presidio_python
    best: dict[str, dict[str, Any]] = {}
    startup: dict[str, float] = {}
    # Alternate engines round by round so background load hits all alike; keep the best.
    for _ in range(args.rounds):
        for name, python in engines.items():
            res, _ = _run(
                python, "--engine", name, "--data", args.data, "--seconds", str(args.seconds)
            )
            if name not in best or res["texts_per_s"] > best[name]["texts_per_s"]:
                best[name] = res
            _, wall = _run(python, "--engine", name, "--data", args.data, "--startup-only")
            startup[name] = min(startup.get(name, wall), wall)
    cli = min(_cli_wall(args.defib_python, args.data) for _ in range(args.rounds))
    n = len(Path(args.data).read_text(encoding="utf-8").splitlines())

    d = best["defib"]
    print(
        f"PII benchmark on {args.data} ({n} texts), Python {d['python']}, best of "
        f"{args.rounds} rounds of {args.seconds:g}s after warm-up\n"
    )
    print(
        "| engine | micro-F1 | micro-F1 names/places | doc-F1 | ms/text | texts/s | "
        "start-up (process, s) | memory after warm-up (MB) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key, r in best.items():
        print(
            f"| {LABELS[key]} | {r['micro_f1']:.3f} | {r['micro_f1_named']:.3f} | "
            f"{r['doc_f1']:.3f} | {r['ms_per_text']:.3f} | {r['texts_per_s']:,.0f} | "
            f"{startup[key]:.2f} | {r['rss_mb']:.0f} |"
        )
    print()
    types = list(d["per_type_f1"])
    print("| F1 | " + " | ".join(types) + " |")
    print("| --- |" + " ---: |" * len(types))
    for key, r in best.items():
        print(f"| {key} | " + " | ".join(f"{r['per_type_f1'][t]:.3f}" for t in types) + " |")
    print()
    for key, p in best.items():
        if key != "defib":
            print(
                f"defib vs {key}: {p['ms_per_text'] / d['ms_per_text']:.1f}x faster per text, "
                f"start-up {startup[key] / startup['defib']:.1f}x shorter"
            )
    print(
        f"defib CLI end to end (`python -m defib.detectors pii`, {n} texts, start-up "
        f"included): {cli:.2f}s = {n / cli:,.0f} texts/s"
    )


if __name__ == "__main__":
    main()
