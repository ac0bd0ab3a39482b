"""The one protocol every content detector implements, and helpers shared by them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected span: `text[start:end] == finding.text`."""

    type: str
    start: int
    end: int
    score: float
    detector: str
    version: str
    text: str = ""
    label: str | None = None


@runtime_checkable
class Detector(Protocol):
    """A pure, thread-safe content detector."""

    name: str
    version: str

    def detect(self, text: str, *, context: str | None = None) -> list[Finding]: ...


def shannon_entropy(value: str) -> float:
    """Shannon entropy of `value` in bits per character (0.0 for the empty string)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def resolve_overlaps(findings: Iterable[Finding], priority: Mapping[str, int]) -> list[Finding]:
    """Keep one finding per overlapping region: higher type priority, then score, then length.

    Returned in text order. Types missing from `priority` rank lowest.
    """
    ranked = sorted(
        findings,
        key=lambda f: (-priority.get(f.type, 0), -f.score, -(f.end - f.start), f.start),
    )
    kept: list[Finding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: (f.start, f.end))
    return kept
