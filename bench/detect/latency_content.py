"""Per-call latency of the toxicity and grounding detectors on one core, and start-up time.

Usage: python bench/detect/latency_content.py [--toxicity FILE] [--rounds 3]
Toxicity texts: FILE ({"text"} JSONL; default the public dev split
bench/results/toxicity_pubdev.jsonl if built, else tests/detectors/data/toxicity_dev.jsonl).
Grounding pairs: tests/detectors/data/grounding_dev.jsonl plus each pair's context padded to
a few hundred words with unrelated sentences, the size of a retrieved passage.
Toxicity is reported per length group: the texts as they are (mostly tweet-sized), and long
texts of 200, 350 and 500+ words made by joining texts of the same file, clean ones only
and all of them (a chatbot answer or a pasted document is that long; the gateway sees both).
Start-up: a fresh interpreter importing the detector and scoring one text.
Goals (issue #33): toxicity p99 <= 2 ms, start-up < 1 s; grounding <= 20 ms per pair.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLOCK = [time.thread_time]  # set from --wall in main()
ROOT = Path(__file__).resolve().parents[2]
PAD = (
    "The service stores its configuration in a YAML file next to the binary. Operators "
    "rotate the logs weekly and keep them for ninety days in cold storage. The team meets "
    "on Tuesdays to review dashboards, alerts and the on-call handover notes. "
)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return qs[49], qs[98]


def _time(fn: object, args_list: list[tuple[object, ...]], rounds: int) -> list[float]:
    # CPU time of this thread: on a shared machine wall time mostly measures the neighbours.
    clock = CLOCK[0]
    out = []
    for _ in range(rounds):
        for args in args_list:
            t0 = clock()
            fn(*args)  # type: ignore[operator]
            out.append((clock() - t0) * 1000)
    return out


def _joined(pool: list[str], words: int, count: int) -> list[str]:
    """`count` texts of at least `words` words, each joining texts of `pool` taken with a
    prime stride so every source (tweets, comments, chatbot answers) is mixed in
    (deterministic: the same file gives the same texts)."""
    out: list[str] = []
    k = 0
    while len(out) < count and pool:
        parts: list[str] = []
        n = 0
        while n < words:
            text = pool[(k * 7919) % len(pool)].strip()
            k += 1
            parts.append(text if text.endswith((".", "!", "?")) else text + ".")
            n += len(text.split())
        out.append(" ".join(parts))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    pub = ROOT / "bench/results/toxicity_pubdev.jsonl"
    default = pub if pub.exists() else ROOT / "tests/detectors/data/toxicity_dev.jsonl"
    ap.add_argument("--toxicity", default=str(default))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=3000)
    ap.add_argument("--long", type=int, default=200, help="long texts per length group")
    ap.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    args = ap.parse_args()
    CLOCK[0] = time.perf_counter if args.wall else time.thread_time
    print(f"clock: {'wall time' if args.wall else 'thread CPU time'}")

    startup = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t=time.perf_counter(); "
            "from defib.detectors.toxicity import ToxicityDetector; "
            "ToxicityDetector().detect('you are a kind person'); "
            "print((time.perf_counter()-t)*1000)",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    from defib.detectors.grounding import GroundingDetector, support_score
    from defib.detectors.toxicity import ToxicityDetector

    tox = ToxicityDetector()
    lines = Path(args.toxicity).read_text(encoding="utf-8").splitlines()
    texts = [(json.loads(x)["text"],) for x in lines[: args.limit]]
    ms = _time(tox.detect, texts, args.rounds)
    p50, p99 = _percentiles(ms)
    mean_chars = sum(len(t[0]) for t in texts) / len(texts)
    print(
        f"toxicity: n={len(ms)} texts (mean {mean_chars:.0f} chars) p50={p50:.3f} ms "
        f"p99={p99:.3f} ms max={max(ms):.3f} ms; start-up "
        f"(import + first text) {float(startup.stdout):.0f} ms"
    )
    rows = [json.loads(x) for x in lines]
    # Long clean text is what an LLM gateway mostly carries; mixed long texts (a toxic
    # sentence or several among clean ones) also pay for the findings and their spans.
    for kind, pool in (
        ("clean", [r["text"] for r in rows if not r.get("toxic")]),
        ("mixed", [r["text"] for r in rows]),
    ):
        for words in (200, 350, 500):
            long_texts = _joined(pool, words, args.long)
            ms = _time(tox.detect, [(t,) for t in long_texts], args.rounds)
            p50, p99 = _percentiles(ms)
            mean_words = sum(len(t.split()) for t in long_texts) / len(long_texts)
            print(
                f"toxicity {words}+ words {kind}: n={len(ms)} texts (mean {mean_words:.0f} "
                f"words) p50={p50:.3f} ms p99={p99:.3f} ms max={max(ms):.3f} ms"
            )

    ground = GroundingDetector()
    rows = [json.loads(x) for x in (ROOT / "tests/detectors/data/grounding_dev.jsonl").open()]
    pairs = []
    for r in rows:
        context = (PAD * 6) + r["context"] + " " + (PAD * 6)
        pairs.append((r["response"] + " " + PAD, context))
    words = sum(len(c.split()) + len(t.split()) for t, c in pairs) / len(pairs)

    def both(text: str, context: str) -> None:
        ground.detect(text, context=context)
        support_score(text, context)

    ms = _time(both, pairs, args.rounds * 10)
    p50, p99 = _percentiles(ms)
    print(
        f"grounding: n={len(ms)} pairs (mean {words:.0f} words) p50={p50:.3f} ms "
        f"p99={p99:.3f} ms max={max(ms):.3f} ms (detect + support_score)"
    )


if __name__ == "__main__":
    main()
