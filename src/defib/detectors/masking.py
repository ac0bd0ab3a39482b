"""Masking text: every PII or secret finding of the `pii` detector becomes `[TYPE]`.

One implementation for everything shown or stored masked: evidence views and gateway
captures at rest.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from defib.detectors.pii import PiiDetector


@lru_cache(maxsize=1)
def _detector() -> PiiDetector:
    return PiiDetector()


def mask_text(text: str) -> tuple[str, dict[str, int]]:
    """`text` with every finding replaced by `[TYPE]`, and the count per type."""
    if not text:
        return text, {}
    findings = sorted(_detector().detect(text), key=lambda f: f.start)
    counts: Counter[str] = Counter()
    out: list[str] = []
    pos = 0
    for f in findings:
        if f.start < pos:
            continue  # overlapping findings: the earlier one already covers this span
        out.append(text[pos : f.start])
        out.append(f"[{f.type}]")
        counts[f.type] += 1
        pos = f.end
    out.append(text[pos:])
    return "".join(out), dict(counts)
