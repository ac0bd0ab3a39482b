"""Toxicity: a lexicon first pass plus a linear model over word and character n-grams.

The lexicon (abusive, hateful, sexual, violent and self-harm terms) is matched through
obfuscation (leetspeak, stretched letters, s p a c e d or d.o.t.t.e.d letters, Unicode
confusables) with whole-word boundaries so `Scunthorpe`, `class` or `assess` stay clean.
A term alone no longer decides: its hit becomes a feature of the model
(`defib/detectors/models/toxicity.*`, trained offline by `make train-detectors` on public
data recorded in models/README.md), which also reads who is targeted and how, so a quoted
slur in counter-speech, a dog breeder's vocabulary or an untargeted swear word can stay
clean while a dehumanising sentence with no listed word is caught. Only direct threats and
self-harm statements (`STRONG`) are reported on the lexicon's word alone. Offsets always
point into the original text.

Inline cost: the text is scanned once for lexicon terms (tried only where a term can
start, by its first two characters) and the model sums one cached weight per word
(`LinearModel.probability`); per-token feature lists are built only by the offline trainer.

Backends: `model` (default, as above), `lexicon` (the lexicon alone, version 1 behaviour),
`profanity-check` (the lexicon plus `alt-profanity-check`'s whole-text score, if installed).
"""

from __future__ import annotations

import bisect
import importlib
import itertools
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from defib.detectors.base import Finding, resolve_overlaps
from defib.detectors.ngrams import LinearModel, Token, bucket, features, token_texts, tokenize
from defib.detectors.toxicity_lexicon import LEXICON, MILD, MILD_SCORE

NAME = "toxicity"
VERSION = "2.1.0"


# What an obfuscated letter may look like after NFKC and lower-casing.
_LEET: dict[str, str] = {
    "a": "a4@",
    "b": "b8",
    "e": "e3",
    "g": "g9",
    "i": "i1!|",
    "l": "l1|",
    "o": "o0",
    "s": "s5$",
    "t": "t7+",
    "z": "z2",
}
_VOWEL_MASK = "*"  # `f*ck`, `sh*t`: a masked vowel still reads as the word
# Cyrillic/Greek letters NFKC leaves alone but that render like Latin ones.
_CONFUSABLES = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0455\u0458\u0501\u043a\u043c\u0442\u043d\u0432"
    "\u03bf\u03b1\u03b9\u03ba\u03bd\u03c4\u03b5\u03c1\u03c5",
    "aeopcyxisjdkmthboaikvtepu",
)
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


def _letter_class(ch: str) -> str:
    chars = _LEET.get(ch, ch)
    if ch in "aeiouy":
        chars += _VOWEL_MASK
    return "[" + re.escape(chars) + "]" if len(chars) > 1 else re.escape(ch)


def _term_pattern(term: str) -> str:
    parts = []
    for ch in term:
        if ch in {" ", "-"}:
            parts.append(r"[\W_]+")
        elif ch == "'":
            parts.append("'?")
        else:
            parts.append(_letter_class(ch) + "+")  # `+` absorbs stretched letters
    return "".join(parts)


_TERMS: dict[str, str] = {}  # regex group name -> the lexicon term it matches


def _build() -> tuple[str, dict[str, tuple[str, float]]]:
    entries = [
        (term, category, MILD_SCORE if term in MILD else score)
        for category, (score, terms) in LEXICON.items()
        for term in terms
    ]
    # Longest first so a phrase wins over the word inside it.
    entries.sort(key=lambda e: -len(e[0]))
    meta = {f"t{n}": (category, score) for n, (_, category, score) in enumerate(entries)}
    _TERMS.update({f"t{n}": term for n, (term, _, _) in enumerate(entries)})
    alts = "|".join(f"(?P<t{n}>{_term_pattern(term)})" for n, (term, _, _) in enumerate(entries))
    # Boundaries are letters/digits only: trailing `!!` must not glue onto the word.
    return _bounded(alts), meta


def _bounded(alts: str) -> str:
    return f"(?<![a-z0-9])(?:{alts})(?![a-z0-9])"


# The whole lexicon as one alternation: the reference `_matches` is tested against (not
# compiled at import: matching goes through the per-first-character patterns below).
_PATTERN_SOURCE, _META = _build()


def _first_chars(term: str) -> str:
    """The characters a match of `term` can start with (its first letter's class)."""
    ch = term[0]
    return _LEET.get(ch, ch) + (_VOWEL_MASK if ch in "aeiouy" else "")


def _build_by_first() -> tuple[re.Pattern[str], dict[str, str], dict[str, frozenset[str] | None]]:
    """`_PATTERN_SOURCE` cut by the character a match starts with. Python's `re` tries all ~270
    alternatives at every word start (27 us a word, most of a long text's cost); at a word
    starting with `c` only the terms that can start with `c` can match, and keeping those
    in the whole pattern's order (longest first) and with the same group names gives exactly the
    same matches. Also per first character: the characters a match can continue with
    (None: any), so most words ("the", "and") are passed over without a regex call."""
    by_char: dict[str, list[str]] = {}
    second: dict[str, frozenset[str] | None] = {}
    for name, term in _TERMS.items():
        alt = f"(?P<{name}>{_term_pattern(term)})"
        # The first letter's class again (a stretched letter) or the second letter's.
        nxt: frozenset[str] | None = None
        if len(term) >= 2 and term[1].isalnum():
            nxt = frozenset(_first_chars(term) + _first_chars(term[1:]))
        for c in dict.fromkeys(_first_chars(term)):
            by_char.setdefault(c, []).append(alt)
            if c not in second:
                second[c] = nxt
            else:
                known = second[c]
                second[c] = None if known is None or nxt is None else known | nxt
    sources = {c: _bounded("|".join(alts)) for c, alts in by_char.items()}
    starts = re.compile(f"(?<![a-z0-9])[{re.escape(''.join(sorted(by_char)))}]")
    return starts, sources, second


_STARTS, _BY_FIRST_SOURCE, _SECOND = _build_by_first()
# Compiled at import for the letters; the few digit/symbol starts (`1d10t`, `@ss`, `*`),
# whose patterns repeat every term of two or more letters, on first use. Start-up then costs
# what the single big pattern did.
_BY_FIRST: dict[str, re.Pattern[str]] = {
    c: re.compile(src) for c, src in _BY_FIRST_SOURCE.items() if c.isalpha()
}


def _first_pattern(c: str) -> re.Pattern[str]:
    pattern = _BY_FIRST.get(c)
    if pattern is None:
        pattern = _BY_FIRST[c] = re.compile(_BY_FIRST_SOURCE[c])
    return pattern


def _matches(norm: str) -> Iterator[re.Match[str]]:
    """The matches of `re.finditer(_PATTERN_SOURCE, norm)`, found by trying only the terms that can
    start at each word start."""
    end = 0
    for start in _STARTS.finditer(norm):
        i = start.start()
        if i < end:
            continue
        c = norm[i]
        allowed = _SECOND[c]
        if allowed is not None and norm[i + 1 : i + 2] not in allowed:
            continue  # no term starting with `c` goes on like this (every term has 2+ chars)
        m = _first_pattern(c).match(norm, i)
        if m is not None:
            end = m.end()
            yield m


# Runs of single letters split by one separator: `i d i o t`, `i.d.i.o.t`, `k-y-s`.
_SPACED = re.compile(r"(?<![^\W_])(?:[^\W_][ .\-_*/]){2,}[^\W_](?![^\W_])")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    """One non-ASCII character accent-stripped, NFKC-folded, lower-cased, de-confused
    ("" for an invisible one)."""
    if ch in _INVISIBLE:
        return ""
    folded = unicodedata.normalize("NFKD", ch)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", folded).lower().translate(_CONFUSABLES)


def normalise(text: str) -> tuple[str, list[int]]:
    """Lower-cased, NFKC-folded, accent- and confusable-stripped text plus a map from each
    normalised index to the index of the original character it came from."""
    if text.isascii():  # the common case: nothing to fold, every index maps to itself
        return text.lower(), list(range(len(text)))
    # ASCII runs are copied whole; only the non-ASCII characters are folded one by one.
    out: list[str] = []
    index: list[int] = []
    pos = 0
    for m in _NON_ASCII.finditer(text):
        i = m.start()
        if i > pos:
            out.append(text[pos:i].lower())
            index.extend(range(pos, i))
        folded = _fold(m.group())
        out.append(folded)
        index.extend([i] * len(folded))
        pos = i + 1
    out.append(text[pos:].lower())
    index.extend(range(pos, len(text)))
    return "".join(out), index


def _collapse_spaced(norm: str, index: list[int]) -> tuple[str, list[int]]:
    """Join `k i l l` / `i.d.i.o.t` runs into words so phrases match across them."""
    out: list[str] = []
    out_index: list[int] = []
    pos = 0
    for m in _SPACED.finditer(norm):
        out.append(norm[pos : m.start()])
        out_index.extend(index[pos : m.start()])
        for k in range(m.start(), m.end(), 2):
            out.append(norm[k])
            out_index.append(index[k])
        pos = m.end()
    out.append(norm[pos:])
    out_index.extend(index[pos:])
    return "".join(out), out_index


def _plausible(s: str) -> bool:
    # `455` or `A55` are numbers, not leetspeak for a swear word; `1d10t` and `a$$` are.
    letters = sum(c.isalpha() for c in s)
    symbols = sum(c in "@$!|*" for c in s)
    return letters >= 1 and letters + symbols >= 2


# Terms that are a finding on their own, whatever the model says: a direct threat or a
# statement of self-harm is worth a person's look even in an otherwise calm text. The rest
# (slurs, swear words, "suicide" as a topic) are quoted, reclaimed or reported too often.
STRONG = frozenset(
    [t for t in LEXICON["violence"][1] if " you" in t or t == "kill them all"]
    + [t for t in LEXICON["self_harm"][1] if " " in t and t != "self harm"]
    + ["kys", "kill urself", "gas the jews", "should be exterminated", "heil hitler"]
)
MODEL_LABEL = "abuse"  # a model finding with no lexicon term in it
CATEGORIES = (*LEXICON, MODEL_LABEL)
BACKENDS = ("model", "lexicon", "profanity-check")

# Identity groups, folded into one token so "<group> are animals" learnt from one group
# carries to another the training data names less often.
_GROUP_WORDS = """women woman girls men gays gay lesbians lesbian homosexuals queers trans
transgender jews jewish muslims muslim islam christians christian catholics hindus hindu sikhs
immigrants immigrant migrants refugees foreigners blacks black africans asians asian chinese
indians mexicans arabs latinos hispanics whites gypsies roma disabled retarded autistic"""
GROUPS = frozenset(_GROUP_WORDS.split())
_GROUP = "<grp>"


@dataclass(frozen=True, slots=True)
class _Hit:
    """A lexicon match: original span, category, term score, and the term matched."""

    start: int
    end: int
    category: str
    score: float
    term_key: str


BITS = 18  # 2^18 weights: 1 MiB of float32; the trainer and the shipped file agree on it


def _scan(text: str) -> tuple[str, list[int], list[_Hit]]:
    """Normalised text, its index map to the original, and the lexicon hits."""
    norm, index = normalise(text)
    if _SPACED.search(norm):
        norm, index = _collapse_spaced(norm, index)
    hits = [
        _Hit(index[m.start()], index[m.end() - 1] + 1, *_META[m.lastgroup or ""], m.lastgroup or "")
        for m in _matches(norm)
        if _plausible(m.group())
    ]
    return norm, index, hits


def _extra(words: Sequence[str], hits: Sequence[_Hit]) -> list[str]:
    """Whole-text features: the lexicon's hits by category and identity-group n-grams."""
    extra = [f"lex:{h.category}{'_mild' if h.score == MILD_SCORE else ''}" for h in hits]
    for k, word in enumerate(words):
        if word in GROUPS:
            nxt = words[k + 1] if k + 1 < len(words) else "</s>"
            nxt2 = words[k + 2] if k + 2 < len(words) else "</s>"
            prev = words[k - 1] if k else "<s>"
            extra += [f"g:{prev} {_GROUP}", f"g:{_GROUP} {nxt}", f"g:{_GROUP} {nxt} {nxt2}"]
    return extra


def featurise(text: str, bits: int = BITS) -> tuple[list[Token], list[list[int]], list[_Hit]]:
    """Tokens, hashed feature groups (one per token, then whole-text signals) and lexicon hits.

    Shared with the offline trainer: the weights are only valid for exactly these features.
    """
    norm, index, hits = _scan(text)
    tokens = tokenize(norm, index)
    return tokens, features(tokens, bits, _extra([t.text for t in tokens], hits)), hits


def model_probability(model: LinearModel, text: str) -> tuple[float, list[_Hit]]:
    """`model.score(featurise(text)[1]).probability` and the hits, without building Token
    objects or per-token feature lists (the inline path; explanations use `featurise`)."""
    norm, _, hits = _scan(text)
    tokens = token_texts(norm)
    extra = [bucket(f, BITS) for f in _extra(tokens, hits)]
    return model.probability(tokens, extra), hits


@cache
def load_model() -> tuple[LinearModel, float]:
    """The shipped toxicity model and its decision threshold (loaded once per process)."""
    base = resources.files("defib.detectors") / "models"
    meta = json.loads((base / "toxicity.json").read_text(encoding="utf-8"))
    if int(meta["bits"]) != BITS:
        raise ValueError(f"toxicity model has {meta['bits']} bits, featuriser {BITS}")
    model = LinearModel.from_bytes((base / "toxicity.f32").read_bytes(), float(meta["bias"]), BITS)
    return model, float(meta["threshold"])


def _rescale(p: float, threshold: float) -> float:
    """Map the model probability so its tuned threshold lands on 0.5: `min_score` then reads
    the same for every backend (0.5 = flagged, higher = stricter)."""
    if p < threshold:
        return 0.5 * p / threshold
    return 0.5 + 0.5 * (p - threshold) / (1.0 - threshold)


_SENTENCE_END = re.compile(r"[.!?\n]+")


def _best_sentence(text: str, tokens: Sequence[Token], contrib: Sequence[float]) -> tuple[int, int]:
    """The sentence whose tokens carry the most toxic weight (trimmed), as the finding span."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    totals = [0.0] * len(bounds)
    for t, c in zip(tokens, contrib, strict=False):
        totals[bisect.bisect_right(bounds, t.start) - 1] += c  # one pass, not one per sentence
    best, best_sum = (0, len(text)), float("-inf")
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b > a and text[a:b].strip() and totals[k] > best_sum:
            best, best_sum = (a, b), totals[k]
    a, b = best
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _found(text: str, start: int, end: int, score: float, label: str) -> Finding:
    return Finding("TOXICITY", start, end, score, NAME, VERSION, text[start:end], label)


class ToxicityDetector:
    """Toxic language: lexicon first pass plus a linear n-gram model (default backend)."""

    name = NAME
    version = VERSION

    def __init__(
        self,
        *,
        backend: str = "model",
        min_score: float = 0.5,
        categories: Sequence[str] | None = None,
        model_threshold: float = 0.8,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown toxicity backend {backend!r}; use {', '.join(BACKENDS)}")
        if categories is not None and not set(categories) <= set(CATEGORIES):
            raise ValueError(f"unknown categories; known: {', '.join(CATEGORIES)}")
        self.backend = backend
        self.min_score = min_score
        self.categories = frozenset(categories) if categories is not None else frozenset(CATEGORIES)
        self.model_threshold = model_threshold
        self._predict: Callable[[list[str]], Any] | None = None
        if backend == "model":
            load_model()  # fail at construction, not on the first text
        if backend == "profanity-check":
            try:
                predict_prob = importlib.import_module("profanity_check").predict_prob
            except ImportError as e:  # pragma: no cover - depends on the optional extra
                raise ImportError(
                    "backend 'profanity-check' needs the optional package alt-profanity-check"
                ) from e
            self._predict = predict_prob

    def detect(self, text: str, *, context: str | None = None) -> list[Finding]:
        """Toxic spans in `text`; `context` is ignored."""
        if self.backend == "model":
            found = self._model(text)
        else:
            found = [
                f
                for f in self._lexicon(text)
                if f.label in self.categories and f.score >= self.min_score
            ]
        if self._predict is not None and not found and text.strip():
            prob = float(self._predict([text])[0])
            if prob >= max(self.model_threshold, self.min_score):
                start = len(text) - len(text.lstrip())
                end = len(text.rstrip())
                found.append(
                    Finding("TOXICITY", start, end, prob, NAME, VERSION, text[start:end], "model")
                )
        return resolve_overlaps(found, {"TOXICITY": 1})

    def score(self, text: str) -> float:
        """The model's whole-text score on the `min_score` scale (0.5 = flagged)."""
        model, threshold = load_model()
        return _rescale(model_probability(model, text)[0], threshold)

    def _model(self, text: str) -> list[Finding]:
        if not text.strip():
            return []
        model, threshold = load_model()
        probability, hits = model_probability(model, text)
        score = round(_rescale(probability, threshold), 4)
        found = [
            Finding(
                "TOXICITY",
                h.start,
                h.end,
                h.score,
                NAME,
                VERSION,
                text[h.start : h.end],
                h.category,
            )
            for h in hits
            if _TERMS[h.term_key] in STRONG and h.score >= self.min_score
        ]
        if score >= self.min_score:
            found += [
                Finding(
                    "TOXICITY",
                    h.start,
                    h.end,
                    score,
                    NAME,
                    VERSION,
                    text[h.start : h.end],
                    h.category,
                )
                for h in hits
            ]
            if not hits:
                # Token spans and per-token weights only for a flagged text with no term.
                norm, index, _ = _scan(text)
                tokens = tokenize(norm, index)
                extra = [bucket(f, BITS) for f in _extra([t.text for t in tokens], hits)]
                contrib = model.contributions([t.text for t in tokens], extra)
                a, b = _best_sentence(text, tokens, contrib)
                found.append(
                    Finding("TOXICITY", a, b, score, NAME, VERSION, text[a:b], MODEL_LABEL)
                )
        return [f for f in found if f.label in self.categories]

    def _lexicon(self, text: str) -> Iterator[Finding]:
        norm, index = normalise(text)
        if _SPACED.search(norm):
            norm, index = _collapse_spaced(norm, index)
        for m in _matches(norm):
            if _plausible(m.group()):
                yield self._finding(text, index[m.start()], index[m.end() - 1] + 1, m)

    def _finding(self, text: str, start: int, end: int, m: re.Match[str]) -> Finding:
        key = m.lastgroup
        assert key is not None
        category, score = _META[key]
        return Finding("TOXICITY", start, end, score, NAME, VERSION, text[start:end], category)
