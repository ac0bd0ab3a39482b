"""PII benchmark worker: accuracy and steady-state throughput of one engine on a JSONL set.

Runs inside the engine's own interpreter (defib's venv, or bench/.venv-presidio for
Presidio) and prints one JSON object. `run.sh` runs both and renders the table.

    python bench/detect/bench_pii.py --engine defib|presidio [--data FILE] [--seconds 3]
    python bench/detect/bench_pii.py --engine presidio --startup-only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TYPES = ["EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "SECRET"]
Spans = list[tuple[str, int, int]]


def defib_engine() -> Callable[[str], Spans]:
    from defib.detectors import get_detector

    det = get_detector("pii")
    return lambda text: [(f.type, f.start, f.end) for f in det.detect(text)]


def presidio_engine() -> Callable[[str], Spans]:
    # Offline: no spaCy model (no-op NLP engine) and no public-suffix-list download.
    os.environ.setdefault("TLDEXTRACT_CACHE", tempfile.mkdtemp(prefix="tldextract-"))
    import tldextract
    import tldextract.tldextract as tx
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine.no_op_nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    tx.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    registry = RecognizerRegistry(supported_languages=["en"])
    for rec in (
        CreditCardRecognizer(),
        EmailRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        PhoneRecognizer(),
        UsSsnRecognizer(),
    ):
        registry.add_recognizer(rec)
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    mapping = {
        "EMAIL_ADDRESS": "EMAIL",
        "PHONE_NUMBER": "PHONE",
        "CREDIT_CARD": "CREDIT_CARD",
        "US_SSN": "US_SSN",
        "IBAN_CODE": "IBAN",
        "IP_ADDRESS": "IP_ADDRESS",
    }

    def run(text: str) -> Spans:
        results = engine.analyze(text=text, language="en")  # Presidio defaults
        return [(mapping.get(r.entity_type, r.entity_type), r.start, r.end) for r in results]

    return run


def _gold(row: dict[str, Any]) -> Spans:
    last: dict[str, int] = {}
    out = []
    for e in row["entities"]:
        i = row["text"].find(e["text"], last.get(e["text"], 0))
        out.append((e["type"], i, i + len(e["text"])))
        last[e["text"]] = i + len(e["text"])
    return out


def _match(pred: Spans, gold: Spans) -> tuple[set[int], set[int]]:
    """score_pii.py's rule: same type, overlap >= 50% of the longer span, best first."""
    cands = []
    for pi, (pt, ps, pe) in enumerate(pred):
        for gi, (gt, gs, ge) in enumerate(gold):
            inter = min(pe, ge) - max(ps, gs)
            if pt == gt and inter > 0 and inter / max(pe - ps, ge - gs) >= 0.5:
                cands.append((-inter / max(pe - ps, ge - gs), pi, gi))
    used_p: set[int] = set()
    used_g: set[int] = set()
    for _, pi, gi in sorted(cands):
        if pi not in used_p and gi not in used_g:
            used_p.add(pi)
            used_g.add(gi)
    return used_p, used_g


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--engine", choices=["defib", "presidio"], required=True)
    ap.add_argument(
        "--data",
        required=True,
        help="JSONL in the eval format (run.sh generates one: bench/detect/make_data.py).",
    )
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--startup-only", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    detect = defib_engine() if args.engine == "defib" else presidio_engine()
    detect("warm-up call with a@b.io")  # lazily built state counts as start-up
    init_s = time.perf_counter() - t0
    if args.startup_only:
        print(json.dumps({"engine": args.engine, "init_s": init_s}))
        return

    rows = [json.loads(x) for x in Path(args.data).read_text(encoding="utf-8").splitlines() if x]
    stats = {t: [0, 0, 0] for t in TYPES}
    doc = [0, 0, 0]
    for row in rows:
        pred, gold = detect(row["text"]), _gold(row)
        used_p, used_g = _match(pred, gold)
        for k, (pt, _, _) in enumerate(pred):
            stats.setdefault(pt, [0, 0, 0])[0 if k in used_p else 1] += 1
        for k, (gt, _, _) in enumerate(gold):
            if k not in used_g:
                stats[gt][2] += 1
        doc[0] += bool(gold) and bool(pred)
        doc[1] += bool(pred) and not gold
        doc[2] += bool(gold) and not pred

    def micro(types: list[str]) -> float:
        return _f1(*(sum(stats[t][i] for t in types if t in stats) for i in range(3)))

    texts = [r["text"] for r in rows]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    for t in texts:  # warm-up pass: caches, lazy regex compilation, metadata loading
        detect(t)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for t in texts:
            detect(t)
        n += 1
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "engine": args.engine,
                "micro_f1": micro(list(stats)),
                "micro_f1_no_secret": micro([t for t in stats if t != "SECRET"]),
                "doc_f1": _f1(*doc),
                "per_type_f1": {t: round(_f1(*stats[t]), 3) for t in TYPES},
                "texts_per_s": n * len(texts) / elapsed,
                "mb_per_s": n * nbytes / elapsed / 1e6,
                "init_s": init_s,
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
