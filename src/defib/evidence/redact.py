"""Showing evidence redacted: PII and secrets found by the `pii` detector are masked."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from defib.detectors.pii import PiiDetector


@lru_cache(maxsize=1)
def _detector() -> PiiDetector:
    return PiiDetector()


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """`text` with every finding replaced by `[TYPE]`, and the count per type."""
    findings = sorted(_detector().detect(text), key=lambda f: f.start)
    counts: Counter[str] = Counter()
    out: list[str] = []
    pos = 0
    for f in findings:
        if f.start < pos:
            continue
        out.append(text[pos : f.start])
        out.append(f"[{f.type}]")
        counts[f.type] += 1
        pos = f.end
    out.append(text[pos:])
    return "".join(out), dict(counts)
