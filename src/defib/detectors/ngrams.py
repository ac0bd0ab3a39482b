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


@lru_cache(maxsize=1 << 13)  # ~8k frequent words, a few MB at most
def token_buckets(word: str, bits: int) -> tuple[int, ...]:
    """`token_features(word)` hashed; cached because words repeat (this is most of the cost)."""
    return tuple(bucket(f, bits) for f in token_features(word))


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


class LinearModel:
    """Logistic regression over hashed binary features scaled by 1/sqrt(count)."""

    def __init__(self, weights: array[float], bias: float, bits: int) -> None:
        if len(weights) != 1 << bits:
            raise ValueError(f"expected {1 << bits} weights, got {len(weights)}")
        self.weights = weights
        self.bias = bias
        self.bits = bits

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
        contributions = [sum(w[i] for i in g) * scale for g in groups]
        z = self.bias + sum(contributions)
        return Scored(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))), contributions)
