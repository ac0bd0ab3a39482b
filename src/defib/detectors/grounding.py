"""Grounding: checkable claims in a response that the retrieved context does not support.

Claims are extracted with patterns (numbers with units, percentages, money, dates, quoted
text, URLs, package installs, capitalised names), normalised (`1,000` == `1000`, `5%` ==
`5 percent`, `March 3, 2025` == `2025-03-03`, `90 minutes` == `1.5 hours`, `about 30` holds
for 32, `1.2 million` for 1,234,567: `quantities.py`), and looked up in the context. A value
whose attribute (the words around it, or its sentence's content words) also comes with a
different value in the context is a CONTRADICTION; otherwise a missing value or name is an
UNSUPPORTED_CLAIM. Sentence-level checks (`relations.py`) add what needs no number: a
flipped negation, swapped or different agents ("A founded B"), another place for the same
subject (a broader place is entailed, not contradicted), and sentences whose content words
the context never uses (scored 0.5, the default `min_score`, so teams can drop them).
No context, no findings: there is nothing to ground against.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from defib.detectors.base import Finding, resolve_overlaps
from defib.detectors.quantities import HEDGES, Quantity, quantity, same
from defib.detectors.relations import (
    novel_sentences,
    place_conflicts,
    polarity_conflicts,
    role_conflicts,
)

NAME = "grounding"
VERSION = "2.0.0"

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    rf"\b(?:(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})"
    rf"|(?P<us_m>\d{{1,2}})/(?P<us_d>\d{{1,2}})/(?P<us_y>\d{{4}})"
    rf"|(?P<mn>{_MONTH_RE})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<my>\d{{4}})"
    rf"|(?P<dd>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dm>{_MONTH_RE})\.?,?\s+(?P<dy>\d{{4}}))\b",
    re.IGNORECASE,
)
_WORD_NUMBERS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100}
_SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "million": 1e6,
    "mn": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
_NUMBER = re.compile(
    rf"(?P<cur>[$€£¥])?\s?(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?"
    rf"|\b(?:{'|'.join(_WORD_NUMBERS)})\b)"
    r"(?:\s?(?P<scale>k|m|bn|mn|b|thousand|million|billion)\b)?"
    r"(?:\s?(?P<unit>%|percent\b|per\s+cent\b|[A-Za-z][A-Za-z\-]{0,15}))?",
    re.IGNORECASE,
)
_UNIT_ALIASES = {
    "percent": "%",
    "per cent": "%",
    "pct": "%",
    "usd": "$",
    "dollars": "$",
    "dollar": "$",
    "eur": "€",
    "euros": "€",
    "euro": "€",
    "gbp": "£",
    "pounds": "£",
    "hrs": "hour",
    "hr": "hour",
    "mins": "minute",
    "min": "minute",
    "secs": "second",
    "sec": "second",
    "s": "second",
    "ms": "millisecond",
}
_QUOTE = re.compile(r"[\"“](?P<q>[^\"”\n]{4,200})[\"”]")
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_PACKAGE = re.compile(
    r"\b(?:pip3?\s+install|npm\s+(?:i|install|add)|yarn\s+add|pnpm\s+add|cargo\s+add|"
    r"gem\s+install|go\s+get|poetry\s+add|uv\s+(?:pip\s+install|add))\s+"
    r"(?:-{1,2}[\w\-]+\s+)*(?P<pkg>@?[A-Za-z0-9][\w.\-/@]*)"
)
_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:-[A-Z][a-z]+)?\b")
_ENTITY = re.compile(r"\b[A-Z][\w&'\-]*(?:\s+(?:of|the|and|for|de|von|van|&)?\s*[A-Z][\w&'\-]*)+")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "of",
        "to",
        "in",
        "on",
        "for",
        "at",
        "by",
        "with",
        "from",
        "and",
        "or",
        "our",
        "your",
        "their",
        "its",
        "it",
        "this",
        "that",
        "these",
        "those",
        "will",
        "would",
        "can",
        "could",
        "should",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "yes",
        "as",
        "than",
        "then",
        "about",
        "after",
        "before",
        "within",
        "up",
        "down",
        "per",
        "each",
        "every",
        "all",
        "any",
    ]
)
_SENTENCE_STARTERS = frozenset(
    [
        "The",
        "A",
        "An",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "We",
        "You",
        "They",
        "I",
        "If",
        "When",
        "However",
        "In",
        "On",
        "At",
        "For",
        "Our",
        "Your",
        "Their",
    ]
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A checkable statement extracted from text, with its normalised value."""

    kind: str  # number, money, percent, date, quote, url, package, entity
    start: int
    end: int
    value: str
    attribute: frozenset[str]
    quantity: Quantity | None = None  # numbers, money and percentages
    sentence: frozenset[str] = frozenset()  # content words of the claim's sentence


def _attribute(text: str, start: int, end: int) -> frozenset[str]:
    """Content words around a claim in its clause: what the value is a value *of*."""
    before = re.split(r"[.;!?\n]", text[max(0, start - 60) : start])[-1]
    after = re.split(r"[.;!?\n]", text[end : end + 40])[0]
    words_before = [w for w in re.findall(r"[a-z][a-z\-]+", before.lower()) if w not in _STOP]
    words_after = [w for w in re.findall(r"[a-z][a-z\-]+", after.lower()) if w not in _STOP]
    return frozenset(words_before[-4:] + words_after[:3])


_SENT_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+|(?<=[a-z0-9)][.!?])(?=[A-Z])")


def _sentence_words(text: str, start: int, end: int, cuts: list[tuple[int, int]]) -> frozenset[str]:
    """Content words of the sentence around text[start:end], the claim's own words excluded:
    what the claim is about, to find the context sentence about the same thing. `cuts` are
    the (start, end) spans of the sentence separators in `text`, in order."""
    k = bisect.bisect_right(cuts, (start, start)) - 1
    a = cuts[k][1] if k >= 0 and cuts[k][1] <= start else 0
    nxt = bisect.bisect_left(cuts, (end, end))
    b = cuts[nxt][0] if nxt < len(cuts) else len(text)
    words = re.findall(r"[a-z][a-z\-]{2,}", (text[a:start] + " " + text[end:b]).lower())
    return frozenset(w for w in words if w not in _STOP)


def _to_float(raw: str) -> float | None:
    raw = raw.lower().replace(",", "")
    if raw in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[raw])
    try:
        return float(raw)
    except ValueError:
        return None


def _unit(raw: str | None) -> str:
    if not raw:
        return ""
    u = re.sub(r"\s+", " ", raw.lower())
    u = _UNIT_ALIASES.get(u, u)
    if u.endswith("s") and len(u) > 3 and not u.endswith("ss"):
        u = u[:-1]
    return u


def _iso(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    try:
        if g["iy"]:
            d = date(int(g["iy"]), int(g["im"]), int(g["id"]))
        elif g["us_y"]:
            d = date(int(g["us_y"]), int(g["us_m"]), int(g["us_d"]))
        elif g["my"]:
            d = date(int(g["my"]), _MONTHS[g["mn"].lower()], int(g["md"]))
        else:
            d = date(int(g["dy"]), _MONTHS[g["dm"].lower()], int(g["dd"]))
    except ValueError:
        return None
    return d.isoformat()


def extract_claims(text: str) -> list[Claim]:
    """Checkable claims in `text`, in order; overlapping patterns keep the most specific."""
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    cuts = [m.span() for m in _SENT_SPLIT.finditer(text)]

    def add(kind: str, s: int, e: int, value: str, q: Quantity | None = None) -> None:
        if free(s, e):
            attribute = _attribute(text, s, e)
            sentence = _sentence_words(text, s, e, cuts)
            claims.append(Claim(kind, s, e, value, attribute, q, sentence))
            taken.append((s, e))

    for m in _URL.finditer(text):
        url = m.group().rstrip(".,;:!?")
        add("url", m.start(), m.start() + len(url), url.lower().rstrip("/"))
    for m in _PACKAGE.finditer(text):
        add("package", m.start("pkg"), m.end("pkg"), m.group("pkg").lower())
    for m in _QUOTE.finditer(text):
        add("quote", m.start("q"), m.end("q"), _squash(m.group("q")))
    for m in _DATE.finditer(text):
        iso = _iso(m)
        if iso:
            add("date", m.start(), m.end(), iso)
    for m in _NUMBER.finditer(text):
        value = _to_float(m.group("num"))
        if value is None:
            continue
        scale = (m.group("scale") or "").lower()
        value *= _SCALE.get(scale, 1.0)
        unit = _unit(m.group("unit"))
        if unit in _STOP:
            unit = ""
        cur = m.group("cur")
        kind = "money" if cur or unit in ("$", "€", "£") else "percent" if unit == "%" else "number"
        unit = cur or unit
        end = m.end() if m.group("unit") and unit else m.end("scale") if scale else m.end("num")
        start = m.start("cur") if cur else m.start("num")
        if kind == "number" and not unit and m.group("num").isdigit() and len(m.group("num")) == 1:
            continue  # a bare single digit ("step 2") is rarely a factual claim
        hedged = bool(HEDGES.search(text[max(0, start - 20) : start]))
        raw = m.group("num") if m.group("num")[0].isdigit() else str(int(value))
        q = quantity(value, unit, raw, scale, hedged)
        add(kind, start, end, f"{value:g}|{unit}", q)
    for m in _ENTITY.finditer(text):
        s, words = m.start(), m.group().split()
        if words[0] in _SENTENCE_STARTERS:
            s += len(words[0]) + 1
            words = words[1:]
        if len(words) >= 2:
            add("entity", s, m.end(), _squash(" ".join(words)))
    for m in _NAME.finditer(text):
        # One capitalised word mid-sentence is a name ("in Berlin", "directed by Nolan");
        # sentence-initial ones are skipped: without a dictionary "Paris" and "Because"
        # look alike there.
        before = text[: m.start()].rstrip(" \"'“(")
        if before and before[-1] not in ".!?:\n" and m.group().lower() not in _STOP:
            add("name", m.start(), m.end(), m.group().lower())
    claims.sort(key=lambda c: c.start)
    return claims


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().lower())


@dataclass(frozen=True, slots=True)
class _Verdict:
    supported: bool
    contradiction: Claim | None
    support: float


def _check(claim: Claim, ctx_text: str, ctx_claims: list[Claim]) -> _Verdict:
    if claim.kind in ("number", "money", "percent") and claim.quantity is not None:
        q = claim.quantity
        same_dim = [c for c in ctx_claims if c.quantity and c.quantity.dimension == q.dimension]
        if any(c.quantity and same(q, c.quantity) for c in same_dim):
            return _Verdict(True, None, 1.0)
        return _Verdict(False, _rival(claim, same_dim), 0.0)
    if claim.kind == "date":
        same_kind = [c for c in ctx_claims if c.kind == "date"]
        if any(c.value == claim.value for c in same_kind):
            return _Verdict(True, None, 1.0)
        return _Verdict(False, _rival(claim, same_kind), 0.0)
    if claim.kind == "entity":
        return _entity_verdict(claim.value, ctx_text)
    if claim.kind == "name":
        # `German` is supported by `Germany`, `American` by `America`: a shared stem.
        stem = claim.value[: max(4, len(claim.value) - 3)]
        found = re.search(rf"(?<![a-z0-9]){re.escape(stem)}", ctx_text) is not None
        return _Verdict(found, None, 1.0 if found else 0.0)
    return _Verdict(claim.value in ctx_text, None, 1.0 if claim.value in ctx_text else 0.0)


def _rival(claim: Claim, candidates: list[Claim]) -> Claim | None:
    """The context value of the same attribute, if any: what makes a miss a contradiction.

    Same attribute = the words right around both values overlap, or their sentences share
    at least two content words (`Revenue grew 12%` vs `revenue growth was 9% this year`).
    """

    def overlap(c: Claim) -> int:
        near = len(claim.attribute & c.attribute)
        return 2 * near + len(claim.sentence & c.sentence)

    rivals = [
        c
        for c in candidates
        if claim.attribute & c.attribute or len(claim.sentence & c.sentence) >= 2
    ]
    return max(rivals, key=overlap) if rivals else None


def _entity_verdict(value: str, ctx_text: str) -> _Verdict:
    """A name is supported when the context has it whole, or every word of a long name
    (`Allison Beth Goertz` / `Goertz, Allison Beth`); a partial match lowers the score."""
    if re.search(rf"(?<![a-z0-9]){re.escape(value)}(?![a-z0-9])", ctx_text):
        return _Verdict(True, None, 1.0)
    words = value.split()
    present = sum(bool(re.search(rf"(?<![a-z0-9]){re.escape(w)}", ctx_text)) for w in words)
    share = present / len(words)
    return _Verdict(len(words) >= 3 and share == 1.0, None, share)


_SCORES = {
    "number": 0.8,
    "money": 0.85,
    "percent": 0.8,
    "date": 0.8,
    "url": 0.85,
    "package": 0.85,
    "quote": 0.75,
    "entity": 0.6,
    "name": 0.55,
}


def _sentence_finding(
    kind: str, text: str, start: int, end: int, score: float, label: str
) -> Finding:
    return Finding(kind, start, end, score, NAME, VERSION, text[start:end], label)


_VALUE_KINDS = frozenset({"number", "money", "percent", "date", "url", "package", "quote"})


class GroundingDetector:
    """Flags response claims the context does not support or contradicts."""

    name = NAME
    version = VERSION

    def __init__(self, *, min_score: float = 0.5, kinds: frozenset[str] | None = None) -> None:
        self.min_score = min_score
        self.kinds = kinds if kinds is not None else frozenset([*_SCORES, "relation"])

    def detect(self, text: str, *, context: str | None = None) -> list[Finding]:
        """Unsupported or contradicted claims of response `text` against `context`."""
        if not context or not context.strip():
            return []
        found = [f for f in self._findings(text, context) if f.score >= self.min_score]
        return resolve_overlaps(found, {"CONTRADICTION": 2, "UNSUPPORTED_CLAIM": 1})

    def _findings(self, text: str, context: str) -> Iterator[Finding]:
        if "relation" in self.kinds:
            conflicts = [
                *role_conflicts(text, context),
                *place_conflicts(text, context),
                *polarity_conflicts(text, context),
            ]
            for c in conflicts:
                yield Finding(
                    "CONTRADICTION",
                    c.start,
                    c.end,
                    0.8,
                    NAME,
                    VERSION,
                    text[c.start : c.end],
                    c.label,
                )
        ctx_text = _squash(context)
        ctx_claims = extract_claims(context)
        verified: list[int] = []  # starts of supported values: their sentence is checked
        for claim in extract_claims(text):
            if claim.kind not in self.kinds:
                continue
            verdict = _check(claim, ctx_text, ctx_claims)
            if verdict.supported:
                if claim.kind in _VALUE_KINDS:
                    verified.append(claim.start)
                continue
            snippet = text[claim.start : claim.end]
            if verdict.contradiction is not None:
                yield Finding(
                    "CONTRADICTION",
                    claim.start,
                    claim.end,
                    0.9,
                    NAME,
                    VERSION,
                    snippet,
                    f"{claim.kind}_mismatch",
                )
            else:
                score = _SCORES[claim.kind] * (1.0 - verdict.support / 2)
                yield Finding(
                    "UNSUPPORTED_CLAIM",
                    claim.start,
                    claim.end,
                    round(score, 3),
                    NAME,
                    VERSION,
                    snippet,
                    claim.kind,
                )

        if "relation" in self.kinds:
            # Scored low: new words are also what a good paraphrase or a greeting brings. A
            # sentence whose number, date or URL the context confirms is not "novel".
            for c in novel_sentences(text, context):
                if not any(c.start <= v < c.end for v in verified):
                    yield _sentence_finding("UNSUPPORTED_CLAIM", text, c.start, c.end, 0.5, c.label)


def support_score(response: str, context: str | None) -> float:
    """Share of the response's checkable claims that the context supports (1.0 if none)."""
    if not context:
        return 0.0
    claims = extract_claims(response)
    if not claims:
        return 1.0
    ctx_text = _squash(context)
    ctx_claims = extract_claims(context)
    return sum(_check(c, ctx_text, ctx_claims).support for c in claims) / len(claims)
