"""Pure: hashed word and character n-gram features, and the linear model that scores them.

One featuriser serves the offline trainer (bench/train/train_toxicity.py) and inference, so
the shipped weights always meet the features they were trained on. Features are hashed with
CRC-32 (stable across processes, unlike `hash()`), which keeps the weights a flat array with
no vocabulary to load: start-up is one `array.frombytes`.
"""

from __future__ import annotations

import math
import re
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# Words (letters, digits and the leetspeak symbols the lexicon also reads) and apostrophes.
_TOKEN = re.compile(r"[a-z0-9@$*!|']+|[^\sa-z0-9@$*!|']")
_LETTER_OF = str.maketrans("4@31!|05$7", "aaeiiiosst")
_CHAR_MIN, _CHAR_MAX = 3, 5
_MAX_TOKEN = 24  # longer "words" are URLs or hashes: their character grams are noise


@dataclass(frozen=True, slots=True)
class Token:
    """A token of the normalised text with its span in the original text."""

    text: str
    start: int
    end: int


def tokenize(norm: str, index: Sequence[int]) -> list[Token]:
    """Tokens of normalised text `norm`; `index[i]` is the original offset of `norm[i]`."""
    out = []
    for m in _TOKEN.finditer(norm):
        word = m.group().strip("'!|")
        if not word:
            continue
        out.append(Token(word, index[m.start()], index[m.end() - 1] + 1))
    return out


def token_texts(norm: str) -> list[str]:
    """`[t.text for t in tokenize(norm, index)]` without the spans (the scoring fast path)."""
    return [w for w in (m.strip("'!|") for m in _TOKEN.findall(norm)) if w]


def token_features(word: str) -> list[str]:
    """The word itself, its de-leeted spelling, and its character 3..5-grams."""
    feats = ["w:" + word]
    plain = word
    letters = sum(c.isalpha() for c in word)
    # `1d10t` and `sh!t` are leetspeak; `455` or `A55` are numbers and road names.
    if letters < len(word) and letters >= 1 and letters + sum(c in "@$!|*" for c in word) >= 2:
        plain = word.translate(_LETTER_OF)
        feats.append("w:" + plain)
    if len(plain) <= _MAX_TOKEN:
        padded = f"<{plain}>"
        for n in range(_CHAR_MIN, _CHAR_MAX + 1):
            feats.extend("c:" + padded[i : i + n] for i in range(len(padded) - n + 1))
    return feats


def bucket(feature: str, bits: int) -> int:
    """The weight index of a feature name."""
    return zlib.crc32(feature.encode()) & ((1 << bits) - 1)


_CRC_C = zlib.crc32(b"c:")


def hash_token(word: str, bits: int) -> tuple[int, ...]:
    """`tuple(bucket(f, bits) for f in token_features(word))`. For an ASCII word the
    character n-grams are hashed straight from byte slices, continuing the CRC of the
    `c:` prefix, instead of building and encoding one string per n-gram: an unseen word
    is what a long text of rare words (names, terms) pays for."""
    if not word.isascii():
        return tuple(bucket(f, bits) for f in token_features(word))
    mask = (1 << bits) - 1
    crc32 = zlib.crc32
    out = [crc32(b"w:" + word.encode()) & mask]
    plain = word
    letters = sum(c.isalpha() for c in word)
    if letters < len(word) and letters >= 1 and letters + sum(c in "@$!|*" for c in word) >= 2:
        plain = word.translate(_LETTER_OF)
        out.append(crc32(b"w:" + plain.encode()) & mask)
    if len(plain) <= _MAX_TOKEN:
        padded = b"<" + plain.encode() + b">"
        for n in range(_CHAR_MIN, _CHAR_MAX + 1):
            out.extend(crc32(padded[i : i + n], _CRC_C) & mask for i in range(len(padded) - n + 1))
    return tuple(out)


@lru_cache(maxsize=1 << 13)  # ~8k frequent words, a few MB at most
def token_buckets(word: str, bits: int) -> tuple[int, ...]:
    """`hash_token`, cached because words repeat (this is most of the trainer's cost)."""
    return hash_token(word, bits)


def features(tokens: Sequence[Token], bits: int, extra: Sequence[str] = ()) -> list[list[int]]:
    """Hashed features grouped by the token they come from; bigrams go with their second
    token and `extra` (whole-text signals) forms the last group."""
    groups = []
    prev = "<s>"
    for tok in tokens:
        feats = list(token_buckets(tok.text, bits))
        feats.append(bucket(f"b:{prev} {tok.text}", bits))
        prev = tok.text
        groups.append(feats)
    groups.append([bucket(f, bits) for f in extra])
    return groups


@dataclass(frozen=True, slots=True)
class Scored:
    """A model score with each token's share of it (for explaining a finding)."""

    probability: float
    contributions: list[float]  # one per token group, same order as `features()`


_WORD_CACHE_MAX = 1 << 15  # distinct words whose weight sums are kept (~3 MB at most)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class LinearModel:
    """Logistic regression over hashed binary features scaled by 1/sqrt(count)."""

    def __init__(self, weights: array[float], bias: float, bits: int) -> None:
        if len(weights) != 1 << bits:
            raise ValueError(f"expected {1 << bits} weights, got {len(weights)}")
        self.weights = weights
        self.bias = bias
        self.bits = bits
        # word -> (sum of the weights of its features, their count). The model is linear, so
        # a word's dozen character n-grams fold into one number once, and a long text costs
        # one dictionary look-up and one bigram hash per word instead of a dozen of each.
        self._words: dict[str, tuple[float, int]] = {}

    def _word(self, word: str) -> tuple[float, int]:
        buckets = hash_token(word, self.bits)
        w = self.weights
        entry = (math.fsum(w[b] for b in buckets), len(buckets))
        if len(self._words) >= _WORD_CACHE_MAX:
            self._words.clear()  # a crude bound; refilling is cheap
        self._words[word] = entry
        return entry

    def probability(self, words: Sequence[str], extra: Sequence[int] = ()) -> float:
        """`score(features(tokens, bits, extra)).probability` for tokens with these texts,
        without building the feature lists: the inline fast path. Same features, same
        1/sqrt(count) scale; only the order of the float additions differs."""
        w = self.weights
        cache = self._words
        mask = (1 << self.bits) - 1
        crc32 = zlib.crc32
        total = 0.0
        n = 0
        prev = "<s>"
        for word in words:
            entry = cache.get(word) or self._word(word)
            total += entry[0] + w[crc32(f"b:{prev} {word}".encode()) & mask]
            n += entry[1] + 1
            prev = word
        for b in extra:
            total += w[b]
        n += len(extra)
        return _sigmoid(self.bias + (total / math.sqrt(n) if n else 0.0))

    def contributions(self, words: Sequence[str], extra: Sequence[int] = ()) -> list[float]:
        """`score(features(tokens, bits, extra)).contributions` for tokens with these texts
        (one per token, then `extra`'s), from the same per-word sums as `probability`."""
        w = self.weights
        mask = (1 << self.bits) - 1
        sums: list[float] = []
        n = len(extra)
        prev = "<s>"
        for word in words:
            entry = self._words.get(word) or self._word(word)
            sums.append(entry[0] + w[zlib.crc32(f"b:{prev} {word}".encode()) & mask])
            n += entry[1] + 1
            prev = word
        sums.append(math.fsum(w[b] for b in extra))
        scale = 1.0 / math.sqrt(n) if n else 0.0
        return [x * scale for x in sums]

    @classmethod
    def from_bytes(cls, raw: bytes, bias: float, bits: int) -> LinearModel:
        """Weights stored as little-endian float32, one per bucket."""
        weights = array("f")
        weights.frombytes(raw)
        return cls(weights, bias, bits)

    def score(self, groups: Sequence[Sequence[int]]) -> Scored:
        """Probability that the featurised text is positive, with per-group contributions."""
        n = sum(len(g) for g in groups)
        scale = 1.0 / math.sqrt(n) if n else 0.0
        w = self.weights
        contributions = [sum(map(w.__getitem__, g)) * scale for g in groups]
        return Scored(_sigmoid(self.bias + sum(contributions)), contributions)
