"""The lexical backstop: an alert's words against descriptions of each incident type.

Rules know the vocabulary someone wrote into them; a monitor nobody has seen uses other
words. When the rules leave an alert undecided, the backstop compares its text with short
descriptions of each type paraphrased from public taxonomies (OWASP LLM Top 10, NIST AI
600-1, MITRE ATLAS; `defib/rules/taxonomy.yaml`): TF-IDF over stemmed words and word
pairs, cosine similarity, the nearest description names the type. It is pure Python
(Snowball stemmer, no model download), builds in a few milliseconds-to-hundreds and costs
well under a millisecond per alert; answers are cached by text.

Its answer is a guess with a score: `confident` when the score and the margin over the
next type are high enough to type the alert outright; otherwise the classifier may still
open a `needs_triage` incident with it as the best guess.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from defib.model import IncidentType, InvalidInput

_WORD = re.compile(r"[a-z][a-z0-9]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words and words every alert carries whatever went wrong: they say nothing about
# the type, and description text would otherwise lend them weight.
_STOP = _words(
    """
    a an and are as at be been by for from has have in into is it its of on or over per
    than that the their this to was were will with within without not no nor so such
    via last after before while when which who whom what where why how all any each
    other some more most less few very can could should would may might must also only
    alert alerts alerting firing fired trigger triggered monitor monitoring warn warning
    critical error info high low above below threshold value current min max avg mean
    minute minutes hour hours day days week weeks window since rate ratio percent pct
    service services system systems prod production staging env environment team
    cluster namespace job instance pod node region zone source status severity summary
    description message title label labels annotations http https www com internal
    """
)
# Stems nearly every AI alert carries: alone they only say "this is about a model", so they
# count in word pairs ("system prompt", "failed requests") but not by themselves.
_GENERIC = _words(
    """
    model llm ai ml prompt output respons request user answer assist chat bot applic api
    endpoint score metric eval detect detector report flag
    """
)
_PAIR_WEIGHT = 1.0
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class TypeDescription:
    """One paragraph describing an incident type, with where its content comes from."""

    id: str
    type: IncidentType
    text: str
    source: str = ""


@dataclass(frozen=True)
class BackstopMatch:
    """The nearest description and how sure the backstop is."""

    type: IncidentType
    score: float
    description: str
    runner_up: IncidentType | None
    runner_up_score: float
    terms: tuple[str, ...]
    confident: bool

    def describe(self) -> str:
        nxt = (
            f"; next {self.runner_up.value} {self.runner_up_score:.2f}"
            if self.runner_up is not None
            else ""
        )
        shared = ", ".join(self.terms[:5])
        return (
            f"nearest description {self.description} ({self.type.value} {self.score:.2f}"
            f"{nxt}; shared: {shared})"
        )


class _Stemmer:
    """Snowball English, with a per-word cache (alerts repeat their words)."""

    def __init__(self) -> None:
        import snowballstemmer

        self._stem = snowballstemmer.stemmer("english").stemWord

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one stemmer per process
    def __call__(self, word: str) -> str:
        return str(self._stem(word))


def _terms(text: str, stem: _Stemmer) -> Counter[str]:
    """Stems and adjacent stem pairs of lowercased, normalised text."""
    stems = [stem(w) for w in _WORD.findall(text) if w not in _STOP]
    counts: Counter[str] = Counter(s for s in stems if s not in _GENERIC)
    counts.update(f"{a} {b}" for a, b in itertools.pairwise(stems) if a != b)
    return counts


def _weights(counts: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    vec = {
        t: (1.0 + math.log(c)) * idf[t] * (_PAIR_WEIGHT if " " in t else 1.0)
        for t, c in counts.items()
        if t in idf
    }
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm else {}


class Backstop:
    """TF-IDF nearest-description classifier over `descriptions` (built once)."""

    def __init__(
        self,
        descriptions: Sequence[TypeDescription],
        *,
        confident_score: float = 0.2,
        confident_margin: float = 1.5,
        floor: float = 0.06,
    ) -> None:
        if not descriptions:
            raise InvalidInput("backstop: at least one description is needed")
        from defib.classify.text import normalise_text

        self.descriptions = tuple(descriptions)
        self.confident_score = confident_score
        self.confident_margin = confident_margin
        self.floor = floor
        self._stem = _Stemmer()
        docs = [_terms(normalise_text(d.text), self._stem) for d in self.descriptions]
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        n = len(docs)
        self._idf = {t: math.log((n + 1) / (c + 1)) + 1.0 for t, c in df.items()}
        self._vectors = [_weights(doc, self._idf) for doc in docs]
        # term -> [(description index, weight)], so a query only touches its own terms.
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for i, vec in enumerate(self._vectors):
            for t, w in vec.items():
                self._postings.setdefault(t, []).append((i, w))
        self._cache: OrderedDict[str, BackstopMatch | None] = OrderedDict()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], **knobs: float) -> Backstop:
        raw = data.get("descriptions") if isinstance(data, Mapping) else None
        if not isinstance(raw, list):
            raise InvalidInput("backstop: expected a mapping with a 'descriptions' list")
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping) or not {"id", "type", "text"} <= set(item):
                raise InvalidInput(f"backstop: descriptions[{i}] needs id, type and text")
            try:
                itype = IncidentType(str(item["type"]))
            except ValueError:
                raise InvalidInput(
                    f"backstop: descriptions[{i}].type {item['type']!r} is not an incident type"
                ) from None
            out.append(
                TypeDescription(
                    str(item["id"]), itype, str(item["text"]), str(item.get("source", ""))
                )
            )
        return cls(out, **knobs)

    @classmethod
    def default(cls) -> Backstop:
        """The packaged descriptions (built once per process)."""
        return _default_backstop()

    def nearest(self, text: str) -> BackstopMatch | None:
        """The nearest description to normalised `text`; None when no word is shared."""
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        match = self.score(text)
        self._cache[text] = match
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return match

    def score(self, text: str) -> BackstopMatch | None:
        """`nearest` without the cache."""
        query = _weights(_terms(text, self._stem), self._idf)
        if not query:
            return None
        sims = [0.0] * len(self.descriptions)
        for t, w in query.items():
            for i, dw in self._postings.get(t, ()):
                sims[i] += w * dw
        best_by_type: dict[IncidentType, tuple[float, int]] = {}
        for i, s in enumerate(sims):
            itype = self.descriptions[i].type
            if s > best_by_type.get(itype, (0.0, -1))[0]:
                best_by_type[itype] = (s, i)
        if not best_by_type:
            return None
        ranked = sorted(best_by_type.items(), key=lambda kv: -kv[1][0])
        itype, (score, idx) = ranked[0]
        runner, runner_score = (ranked[1][0], ranked[1][1][0]) if len(ranked) > 1 else (None, 0.0)
        vec = self._vectors[idx]
        shared = sorted((t for t in query if t in vec), key=lambda t: -query[t] * vec[t])
        # One shared word ("card") is a coincidence as often as a clue: never confident.
        confident = (
            score >= self.confident_score
            and len(shared) >= 2
            and (runner_score == 0.0 or score >= self.confident_margin * runner_score)
        )
        return BackstopMatch(
            itype,
            score,
            self.descriptions[idx].id,
            runner,
            runner_score,
            tuple(shared),
            confident,
        )


def load_descriptions(text: str) -> Mapping[str, Any]:
    import yaml

    data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise InvalidInput("backstop: expected a mapping with a 'descriptions' list")
    return data


@functools.cache
def _default_backstop() -> Backstop:
    text = resources.files("defib.rules").joinpath("taxonomy.yaml").read_text("utf-8")
    return Backstop.from_mapping(load_descriptions(text))
