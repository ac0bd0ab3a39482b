"""Output filters compiled from a system's state, and their incremental use on streams (pure).

A `FilterSet` is built once per state revision (regexes compiled, detectors chosen) and
shared by every request until the next revision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from defib.detectors import Detector, get_detector
from defib.detectors.pii import WEAK_TYPES
from defib.systems.state import FilterAction, FilterKind, OutputFilter

REFUSAL = "This response was withheld by a content filter."
STREAM_CLOSING = "\n\n[The rest of this response was withheld by a content filter.]"
REDACTED = "[REDACTED]"

# Streams: text this close to the end of what arrived is held back, so a span split over
# chunks (an e-mail address, a phone number) is judged whole before any of it is sent.
HOLDBACK_CHARS = 32
# Streams are re-scanned from this far before the emitted boundary, not from the start:
# bounded work per chunk. A pattern match longer than this may go unnoticed.
LOOKBACK_CHARS = 2048


@lru_cache(maxsize=64)
def _detector(name: str, threshold: float) -> Detector:
    return get_detector(name, min_score=threshold)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    label: str  # what replaces it: [REDACTED] for patterns, [EMAIL] etc. for detectors


@dataclass(frozen=True, slots=True)
class Scan:
    blocked: bool
    spans: tuple[Span, ...] = ()
    hits: tuple[str, ...] = ()  # ids of the filters that matched


@dataclass(frozen=True, slots=True)
class _Compiled:
    filter: OutputFilter
    regex: re.Pattern[str] | None
    detector: Detector | None


@dataclass(frozen=True)
class FilterSet:
    compiled: tuple[_Compiled, ...] = ()

    @classmethod
    def build(cls, filters: Sequence[OutputFilter]) -> FilterSet:
        out = []
        for f in filters:
            if f.kind is FilterKind.PATTERN:
                assert f.pattern is not None  # OutputFilter validates it
                out.append(_Compiled(f, re.compile(f.pattern), None))
            else:
                assert f.detector is not None
                out.append(_Compiled(f, None, _detector(f.detector, f.threshold)))
        return cls(tuple(out))

    def __bool__(self) -> bool:
        return bool(self.compiled)

    def scan(self, text: str) -> Scan:
        """What the filters find in `text`: a block, or the spans to redact."""
        spans: list[Span] = []
        hits: list[str] = []
        for c in self.compiled:
            found: list[Span] = []
            if c.regex is not None:
                found = [Span(m.start(), m.end(), REDACTED) for m in c.regex.finditer(text)]
                found = [s for s in found if s.end > s.start]
            elif c.detector is not None:
                threshold = c.filter.threshold
                # A place named alone is no one's data: it neither blocks nor is redacted.
                found = [
                    Span(f.start, f.end, f"[{f.type}]")
                    for f in c.detector.detect(text)
                    if f.score >= threshold and f.type not in WEAK_TYPES
                ]
            if not found:
                continue
            hits.append(c.filter.id)
            if c.filter.action is FilterAction.BLOCK:
                return Scan(True, (), tuple(hits))
            spans.extend(found)
        return Scan(False, _merge(spans), tuple(hits))

    def apply(self, text: str) -> tuple[str, Scan]:
        """A whole response: the refusal if blocked, else `text` with spans masked."""
        result = self.scan(text)
        if result.blocked:
            return REFUSAL, result
        return mask(text, 0, len(text), result.spans), result


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and s.start < merged[-1].end:
            last = merged[-1]
            if s.end > last.end:
                merged[-1] = Span(last.start, s.end, last.label)
            continue
        merged.append(s)
    return tuple(merged)


def mask(text: str, start: int, end: int, spans: Sequence[Span]) -> str:
    """`text[start:end]` with spans replaced; a span begun before `start` is dropped silently
    (its label went out with the earlier part)."""
    out: list[str] = []
    pos = start
    for s in spans:
        if s.end <= start or s.start >= end:
            continue
        if s.start > pos:
            out.append(text[pos : s.start])
        if s.start >= start:
            out.append(s.label)
        pos = max(pos, min(s.end, end))
    if pos < end:
        out.append(text[pos:end])
    return "".join(out)


@dataclass
class StreamGuard:
    """Filters one streamed choice: feed deltas, get the text that is safe to send."""

    filters: FilterSet
    holdback: int = HOLDBACK_CHARS
    text: str = ""
    emitted: int = 0  # how much of `text` has been sent (as original characters)
    blocked: bool = False
    hits: set[str] = field(default_factory=set)

    def feed(self, delta: str) -> str:
        self.text += delta
        return self._step(final=False)

    def finish(self) -> str:
        return self._step(final=True)

    def _step(self, *, final: bool) -> str:
        if self.blocked:
            return ""
        offset = max(0, self.emitted - LOOKBACK_CHARS)
        result = self.filters.scan(self.text[offset:])
        self.hits.update(result.hits)
        if result.blocked:
            self.blocked = True
            return ""
        spans = [Span(s.start + offset, s.end + offset, s.label) for s in result.spans]
        end = len(self.text) if final else self._safe_end()
        for s in spans:  # never cut through a span: it would leave a partial value
            if s.start < end < s.end:
                end = s.start
        if end <= self.emitted:
            return ""
        out = mask(self.text, self.emitted, end, spans)
        self.emitted = end
        return out

    def _safe_end(self) -> int:
        limit = len(self.text) - self.holdback
        if limit <= self.emitted:
            return self.emitted
        window = self.text[self.emitted : limit]
        cut = max(window.rfind(" "), window.rfind("\n"))
        if cut >= 0:
            return self.emitted + cut + 1
        # No word boundary in a long stretch (no spaces in this script): send it anyway.
        return limit if len(window) > 4 * self.holdback else self.emitted
