"""PERSON, ADDRESS, LOCATION and DATE_OF_BIRTH: the PII that has no checksum.

Names, street addresses and places are found by a small averaged-perceptron sequence tagger
(greedy, left to right, BIO tags) over word tokens. Its features are the word, its shape
and suffix, its neighbours, the tags already given, and gazetteer flags: first and last
names, titles, cities, states, countries and street vocabulary from Faker's locale providers
and GeoNames (`data/pii_gazetteer.json.gz`, folded into `data/pii_lexicon.json.gz`, see
`data/README.md`). The weights
(`data/pii_tagger.bin.gz`) were trained only on texts generated from our own templates
(`bench/detect/pii_model/`); no public PII benchmark was used.

The rules that check and repair the tagger's spans (places that are people and back,
organisations, nationality words, initials, a street-address grammar) are `entity_rules.py`.

A birth date is a date (numeric or with a month name) preceded, within a few words, by a
cue such as "born", "date of birth", "DOB" or "birthday"; other dates are not PII here.

Both data files load once per process, on first use (about 0.15 s and ~40 MB, most of it
the gazetteer's dict), and are shared by every `PiiDetector`.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import sys
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

TYPES = ("PERSON", "ADDRESS", "LOCATION", "DATE_OF_BIRTH")
LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ADR", "I-ADR")
_SPAN_TYPE = {"PER": "PERSON", "LOC": "LOCATION", "ADR": "ADDRESS"}
# How sure each type is, before allow lists: a lone place is the weakest evidence.
SCORES = {"PERSON": 0.8, "ADDRESS": 0.85, "LOCATION": 0.6, "DATE_OF_BIRTH": 0.9}

# Gazetteer bits.
FIRST, LAST, TITLE, CITY, STATE, COUNTRY, SSUF, SPRE, SWORD, COMMON = (1 << i for i in range(10))
_GAZ_BITS = {
    "first": FIRST,
    "last": LAST,
    "title": TITLE,
    "city": CITY,
    "state": STATE,
    "country": COUNTRY,
    "street_suffix": SSUF,
    "street_prefix": SPRE,
    "street_word": SWORD,
    "common": COMMON,
}
PLACE = CITY | STATE | COUNTRY
SENTENCE_END = frozenset(".!?:;\"“”'()[]>-")
MAX_PHRASE = 5

# A possessive 's is its own token, so "Cheryl's" looks up "cheryl"; O'Neil stays one word.
TOKEN = re.compile(r"\w+(?:['\u2019](?![sS]\b)\w+|-\w+)*|[^\w\s]")
_UPPER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Casefolded entry (one word, or words joined by one space) -> gazetteer bits."""

    bits: dict[str, int]
    # First word of a multi-word place -> the longest such place, in words.
    phrase_len: dict[str, int]

    @classmethod
    def build(cls, lists: dict[str, Iterable[str]]) -> Lexicon:
        bits: dict[str, int] = {}
        phrase_len: dict[str, int] = {}
        for kind, entries in lists.items():
            bit = _GAZ_BITS.get(kind)
            if bit is None:
                continue
            for e in entries:
                bits[e] = bits.get(e, 0) | bit
                if " " in e and bit & PLACE:
                    words = e.split(" ")
                    if len(words) <= MAX_PHRASE:
                        first = words[0]
                        phrase_len[first] = max(phrase_len.get(first, 0), len(words))
        return cls(bits, phrase_len)

    def compact(self) -> dict[str, dict[str, str]]:
        """Entries grouped by value, one newline-joined string per group: what
        `data/pii_lexicon.json.gz` holds, so loading is a few C-level dict updates."""
        out: dict[str, dict[str, list[str]]] = {"bits": {}, "phrase_len": {}}
        for name, table in (("bits", self.bits), ("phrase_len", self.phrase_len)):
            for word, value in sorted(table.items()):
                out[name].setdefault(str(value), []).append(word)
        return {k: {v: "\n".join(ws) for v, ws in g.items()} for k, g in out.items()}

    @classmethod
    def from_compact(cls, data: dict[str, dict[str, str]]) -> Lexicon:
        tables: list[dict[str, int]] = []
        for name in ("bits", "phrase_len"):
            table: dict[str, int] = {}
            for value, words in data[name].items():
                table.update(dict.fromkeys(words.split("\n"), int(value)))
            tables.append(table)
        return cls(tables[0], tables[1])


def shape(word: str) -> str:
    """`Debra` -> `Xx`, `ABC12` -> `Xd`, `o'neil` -> `x'x`: character classes, runs squeezed."""
    out = []
    last = ""
    for ch in word:
        if ch.isdigit():
            c = "d"
        elif ch.isalpha():
            c = "X" if ch.isupper() else "x"
        else:
            c = ch
        if c != last:
            out.append(c)
            last = c
    return "".join(out)


@dataclass(slots=True)
class Token:
    start: int
    end: int
    text: str
    low: str
    shape: str
    gaz: int
    place: str  # "B"/"I" + place bits of the longest place phrase covering it, or ""
    nl: bool  # a line break between the previous token and this one


def tokenize(text: str, lex: Lexicon) -> list[Token]:
    toks: list[Token] = []
    prev_end = 0
    bits = lex.bits
    for m in TOKEN.finditer(text):
        s, e = m.span()
        word = m.group()
        low = word.casefold()
        toks.append(
            Token(s, e, word, low, shape(word), bits.get(low, 0), "", "\n" in text[prev_end:s])
        )
        prev_end = e
    # Places: the longest phrase match from each token (New York, Ponzano Di Fermo).
    i, n = 0, len(toks)
    phrase_len = lex.phrase_len
    while i < n:
        longest = min(phrase_len.get(toks[i].low, 1), n - i)
        matched = 0
        for k in range(longest, 1, -1):
            b = bits.get(" ".join(t.low for t in toks[i : i + k]), 0) & PLACE
            if b:
                matched = k
                toks[i].place = f"B{b}"
                for t in toks[i + 1 : i + k]:
                    t.place = f"I{b}"
                break
        if not matched:
            b = toks[i].gaz & PLACE
            if b:
                toks[i].place = f"B{b}"
            matched = 1
        i += matched
    return toks


def _w(t: Token | None, edge: str) -> str:
    return t.low if t is not None else edge


def features(toks: list[Token], i: int, p1: str, p2: str) -> list[str]:
    """The feature strings of token i given the two previous tags (shared with training)."""
    return word_features(toks[i]) + context_features(toks, i, p1, p2)


def word_features(t: Token) -> list[str]:
    """The features of the token alone: the tagger caches their summed weights per word."""
    low = t.low
    sh = t.shape if len(t.shape) <= 6 else t.shape[:6]
    g = t.gaz
    f = [
        "b",
        "w=" + low,
        "s=" + sh,
        "x3=" + low[-3:],
        "x4=" + low[-4:],
        "a2=" + low[:2],
        f"g={g}",
        f"gs={g}|{sh}",
        "pl=" + t.place,
    ]
    if t.text[0].isdigit():
        f.append(f"d={len(low)}")
    return f


def context_features(toks: list[Token], i: int, p1: str, p2: str) -> list[str]:
    """The features of token i that depend on its neighbours and the tags already given."""
    t = toks[i]
    n = len(toks)
    prev = toks[i - 1] if i > 0 else None
    prev2 = toks[i - 2] if i > 1 else None
    nxt = toks[i + 1] if i + 1 < n else None
    nxt2 = toks[i + 2] if i + 2 < n else None
    low = t.low
    sh = t.shape if len(t.shape) <= 6 else t.shape[:6]
    g = t.gaz
    nl_after = nxt is not None and nxt.nl
    return [
        "t1=" + p1,
        f"t2={p2}|{p1}",
        f"t1s={p1}|{sh}",
        f"t1g={p1}|{g}",
        "w-1=" + _w(prev, "<s>"),
        "w+1=" + _w(nxt, "</s>"),
        "w-2=" + _w(prev2, "<s>"),
        "w+2=" + _w(nxt2, "</s>"),
        f"w-1w={_w(prev, '<s>')}|{low}",
        "s-1=" + (prev.shape[:4] if prev is not None else "<s>"),
        "s+1=" + (nxt.shape[:4] if nxt is not None else "</s>"),
        f"g-1={prev.gaz if prev is not None else -1}",
        f"g+1={nxt.gaz if nxt is not None else -1}",
        "pl+1=" + (nxt.place if nxt is not None else "</s>"),
        f"nl={t.nl}|{nl_after}",
        f"t1w+1={p1}|{_w(nxt, '</s>')}",
    ]


_WORD_CACHE_MAX = 20_000


class Tagger:
    """Greedy averaged-perceptron tagger.

    `index` maps a feature to where its row starts in `weights`, a flat array of integers
    with one column per label: a few MB instead of tens of MB of Python lists, and it loads
    in milliseconds.
    """

    def __init__(self, index: dict[str, int], weights: Sequence[int]) -> None:
        self.index = index
        self.weights = weights
        # Summed weights of each word's own features (word_features), by word.
        self._word_rows: dict[tuple[str, str, int, str, bool], tuple[int, ...]] = {}

    def tag(self, toks: list[Token]) -> list[str]:
        tags: list[str] = []
        p1 = p2 = "<s>"
        weights = self.weights
        get = self.index.get
        nlab = len(LABELS)
        cache = self._word_rows
        if len(cache) > _WORD_CACHE_MAX:
            cache.clear()  # bounded memory in a long-lived gateway
        for i, t in enumerate(toks):
            key = (t.low, t.shape, t.gaz, t.place, t.text[0].isdigit())
            word = cache.get(key)
            if word is None:
                word = cache[key] = self._sum(word_features(t))
            # Column sums of the rows the features hit, done by zip/sum in C: several times
            # faster than adding label by label in Python.
            rows: list[Sequence[int]] = [word]
            rows += [
                weights[r : r + nlab]
                for r in map(get, context_features(toks, i, p1, p2))
                if r is not None
            ]
            scores = list(map(sum, zip(*rows, strict=True)))
            best = max(range(nlab), key=scores.__getitem__)
            label = LABELS[best]
            tags.append(label)
            p2, p1 = p1, label
        return tags

    def _sum(self, feats: list[str]) -> tuple[int, ...]:
        nlab = len(LABELS)
        rows = [self.weights[r : r + nlab] for r in map(self.index.get, feats) if r is not None]
        return tuple(map(sum, zip(*rows, strict=True))) if rows else (0,) * nlab


def spans(toks: list[Token], tags: list[str]) -> list[tuple[str, int, int]]:
    """(TYPE, first token index, last token index + 1) for each B/I run; I after O opens one."""
    out: list[tuple[str, int, int]] = []
    cur: str | None = None
    start = 0
    for i, tag in enumerate(tags):
        kind = tag[2:] if tag != "O" else None
        if tag.startswith("I-") and cur == kind:
            continue
        if cur is not None:
            out.append((cur, start, i))
        cur, start = kind, i
    if cur is not None:
        out.append((cur, start, len(tags)))
    return [(_SPAN_TYPE[k], s, e) for k, s, e in out]


# ---------------------------------------------------------------- loading
_lock = threading.Lock()
LEXICON_FILE = "pii_lexicon.json.gz"
TAGGER_FILE = "pii_tagger.bin.gz"


def _read(name: str) -> bytes:
    return gzip.decompress(resources.files("defib.detectors").joinpath("data", name).read_bytes())


def encode_tagger(rows: dict[str, Sequence[int]], scale: int, trained_on: str) -> bytes:
    """`data/pii_tagger.bin.gz` before gzip: a JSON header line (labels, scale, how it was
    trained, feature count), the features one per line, then little-endian int32 weights."""
    header = {
        "labels": list(LABELS),
        "scale": scale,
        "trained_on": trained_on,
        "features": len(rows),
    }
    flat = array("i", (x for row in rows.values() for x in row))
    if sys.byteorder != "little":
        flat.byteswap()
    text = json.dumps(header) + "\n" + "\n".join(rows) + "\n"
    return text.encode() + b"\0" + flat.tobytes()


def decode_tagger(raw: bytes) -> Tagger:
    cut = raw.index(b"\0")
    lines = raw[:cut].decode().split("\n")
    header = json.loads(lines[0])
    if list(header["labels"]) != list(LABELS):
        raise RuntimeError(f"{TAGGER_FILE} was trained for other labels")
    feats = lines[1 : 1 + header["features"]]
    flat = array("i")
    flat.frombytes(raw[cut + 1 :])
    if sys.byteorder != "little":
        flat.byteswap()
    if len(flat) != len(feats) * len(LABELS):
        raise RuntimeError(f"{TAGGER_FILE} is damaged")
    # Integer weights as stored (scaled): the best label is the same.
    starts = range(0, len(flat), len(LABELS))
    return Tagger(dict(zip(feats, starts, strict=True)), flat)


@functools.cache
def _load() -> tuple[Lexicon, Tagger]:
    lexicon = json.loads(_read(LEXICON_FILE))
    if not isinstance(lexicon, dict):
        raise RuntimeError(f"{LEXICON_FILE} is damaged")
    return Lexicon.from_compact(lexicon), decode_tagger(_read(TAGGER_FILE))


def load() -> tuple[Lexicon, Tagger]:
    """The gazetteer and the tagger, loaded once per process on first use (the lock keeps
    threads that ask at once from loading twice)."""
    with _lock:
        return _load()


# ---------------------------------------------------------------- DATE_OF_BIRTH
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = re.compile(
    r"(?<![\w/.\-])(?:"
    r"\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})"  # 3/14/1987, 14.03.87
    r"|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}"  # 1987-03-14
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS},?\s+\d{{4}}"  # 14th of March 1987
    rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # March 14, 1987
    r")(?![\w/]|[.\-]\d)",
    re.IGNORECASE,
)
_DOB_CUE = re.compile(
    r"\b(?:born|birth|birthday|b-day|bday|dob|d\.o\.b|date\s+of\s+birth|birth\s*date"
    r"|geboren|né|née|nacido|nacida|nato|nata)\b",
    re.IGNORECASE,
)
# Words that say the date is something else even after a birth cue ("born ... joined on").
_OTHER_DATE = re.compile(
    r"\b(?:joined|since|expir\w*|issued|valid|due|until|ordered|shipped|deliver\w*|paid"
    r"|signed|renew\w*|created|registered|appointment|booked|launched|released|founded"
    r"|established|opened|started|published|built|made|deployed)\b",
    re.IGNORECASE,
)
_DOB_WINDOW = 48


def birth_dates(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _DATE.finditer(text):
        before = text[max(0, m.start() - _DOB_WINDOW) : m.start()]
        cues = list(_DOB_CUE.finditer(before))
        if not cues or _OTHER_DATE.search(before[cues[-1].end() :]):
            continue
        out.append(m.span())
    return out


# ---------------------------------------------------------------- allow lists
_TITLES = re.compile(
    r"^(?:(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|madam|mme|mlle|herr|frau|sr|sra|srta)\.?\s+)+",
    re.IGNORECASE,
)


def normalise(value: str) -> str:
    """How names are compared with allow lists: casefolded words, titles dropped."""
    return " ".join(TOKEN.findall(_TITLES.sub("", value.strip()).casefold()))


def has_letters(value: str) -> bool:
    return _UPPER.search(value) is not None
