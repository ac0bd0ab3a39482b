"""Inline detection on responses and masking at rest (pure).

Findings are reported as (detector, entity, count): a capture or an alert never carries
the detected values themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from defib.detectors import Detector, Finding, get_detector
from defib.detectors.masking import mask_text
from defib.detectors.pii import is_weak

# Which incident type a detector's finding means.
INCIDENT_TYPE = {
    "pii": "data_leak",
    "secrets": "data_leak",
    "toxicity": "toxicity",
    "grounding": "hallucination",
}


@lru_cache(maxsize=8)
def detector(name: str) -> Detector:
    return get_detector(name)


@lru_cache(maxsize=64)
def _pii_allowing(allow: tuple[str, ...]) -> Detector:
    return get_detector("pii", allow=allow)


def inspect(
    text: str, context: str | None, detect: Sequence[str], allow: Sequence[str] = ()
) -> list[Finding]:
    """Run the configured inline detectors over a response (grounding only with context);
    `allow`: names and places the pii detector does not report (the system's `pii_allow`)."""
    if not text:
        return []
    found: list[Finding] = []
    for name in detect:
        if name == "grounding" and not context:
            continue
        det = _pii_allowing(tuple(allow)) if name == "pii" and allow else detector(name)
        found.extend(det.detect(text, context=context))
    return found


def summarise(findings: Iterable[Finding]) -> tuple[dict[str, Any], ...]:
    counts = Counter((f.detector, f.type) for f in findings)
    return tuple({"detector": d, "entity": e, "count": n} for (d, e), n in sorted(counts.items()))


def incident_types(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """incident type -> the findings that point to it.

    A place named alone (LOCATION: "our office in Paris") is no one's data: findings of
    weak types only point to no data_leak.
    """
    out: dict[str, list[Finding]] = {}
    for f in findings:
        kind = INCIDENT_TYPE.get(f.detector)
        if kind is not None:
            out.setdefault(kind, []).append(f)
    if "data_leak" in out and is_weak(out["data_leak"]):
        del out["data_leak"]
    return out


def mask(text: str) -> str:
    """`text` with PII and secrets replaced by `[TYPE]` (the pii detector runs both)."""
    return mask_text(text)[0]


def merge_findings(*groups: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    counts: Counter[tuple[str, str]] = Counter()
    for group in groups:
        for g in group:
            counts[(str(g["detector"]), str(g["entity"]))] += int(g["count"])
    return tuple({"detector": d, "entity": e, "count": n} for (d, e), n in sorted(counts.items()))
