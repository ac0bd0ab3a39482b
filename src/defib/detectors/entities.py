"""PERSON, ADDRESS, LOCATION and DATE_OF_BIRTH: the PII that has no checksum.

Names, street addresses and places are found by a small averaged-perceptron sequence tagger
(greedy, left to right, BIO tags) over word tokens. Its features are the word, its shape
and suffix, its neighbours, the tags already given, and gazetteer flags: first and last
names, titles, cities, states, countries and street vocabulary from Faker's locale providers
and GeoNames (`data/pii_gazetteer.json.gz`, folded into `data/pii_lexicon.json.gz`, see
`data/README.md`). The weights
(`data/pii_tagger.bin.gz`) were trained only on texts generated from our own templates
(`bench/detect/pii_model/`); no public PII benchmark was used.

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
_PLACE = CITY | STATE | COUNTRY
_SENTENCE_END = frozenset(".!?:;\"“”'()[]>-")
MAX_PHRASE = 5

TOKEN = re.compile(r"\w+(?:['\u2019\-]\w+)*|[^\w\s]")
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
                if " " in e and bit & _PLACE:
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
            b = bits.get(" ".join(t.low for t in toks[i : i + k]), 0) & _PLACE
            if b:
                matched = k
                toks[i].place = f"B{b}"
                for t in toks[i + 1 : i + k]:
                    t.place = f"I{b}"
                break
        if not matched:
            b = toks[i].gaz & _PLACE
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


_NAMES = FIRST | LAST | _PLACE


# Lower-case words that belong inside names and places ("Ludwig van Beethoven", "Rio de Janeiro").
_PARTICLES = frozenset(
    "de da das do dos di del della der den van von la le du des al el bin ibn y e zu ter".split()  # noqa: SIM905
)


def trim_common(toks: list[Token], i: int, j: int) -> tuple[int, int]:
    """Drop lower-case words the tagger let into the edges of a name or place ("said Jonas
    Weber", "snmpwalk OID") in text that uses capitals."""

    def common(t: Token) -> bool:
        return t.text.islower() and t.low not in _PARTICLES

    while i < j and common(toks[i]):
        i += 1
    while j > i and common(toks[j - 1]):
        j -= 1
    return i, j


def implausible(toks: list[Token], i: int, j: int, cased: bool) -> bool:
    """A tagged name or place the tagger is probably wrong about.

    In text that uses capitals, an all-lower-case span is a common word ("man", "said");
    a single word no list has as a name or place is kept only when it looks like a name:
    capitalised, not an acronym, not an everyday word opening a sentence ("One").
    """
    words = [t for t in toks[i:j] if t.text[0].isalpha()]
    if not words:
        return True
    if cased and all(t.text.islower() for t in words):
        return True
    if j - i == 1:
        t = toks[i]
        # Acronyms (MAC, OID, EAN, SSNs) are not names, even when a list has one as a name.
        if len(t.text) <= 5 and sum(c.isupper() for c in t.text) >= 2:
            return True
        if t.gaz & _NAMES:
            # Text without capitals gives no shape to go by: short words are too ambiguous.
            return not cased and len(t.text) < 4
        # Without a list entry: nothing in text without capitals, no everyday word opening
        # a sentence.
        if len(t.text) < 2 or not cased:
            return True
        if opens_sentence(toks, i) and t.gaz & COMMON:
            return True
    return False


# Words beside a name that say a person is meant, not a place ("Dear Austin", "Sydney said").
_PERSON_BEFORE = frozenset(
    "dear hi hello hey thanks thank named contact ask asked met meet tell told cc attn".split()  # noqa: SIM905
)
_PERSON_AFTER = frozenset(
    "said says told tells asked asks wrote writes replied replies emailed texted messaged"  # noqa: SIM905
    " phoned called calls lives lived works worked thinks thought wants wanted needs"
    " needed likes liked loves loved smiled laughed who whose herself himself agreed"
    " explained mentioned confirmed reported complained signed joined left sent".split()
)


def opens_sentence(toks: list[Token], i: int) -> bool:
    return i == 0 or toks[i].nl or toks[i - 1].text in _SENTENCE_END


def person_context(toks: list[Token], i: int, j: int) -> bool:
    """A title, greeting or person verb beside tokens i..j, or a surname after them."""
    prev = toks[i - 1] if i > 0 else None
    nxt = toks[j] if j < len(toks) else None
    if prev is not None and (prev.gaz & TITLE or prev.low in _PERSON_BEFORE):
        return True
    if nxt is not None:
        if nxt.low in _PERSON_AFTER:
            return True
        # A capitalised name after it on the same line: a surname ("Sydney Morgan").
        if not nxt.nl and nxt.text[0].isupper() and nxt.gaz & (FIRST | LAST) and not nxt.place:
            return True
    return False


def person_not_place(toks: list[Token], i: int, j: int) -> bool:
    """A LOCATION span that a title, greeting or person verb says is a person ("Dear Austin",
    "Caldwell said"), provided its words are also in the name lists."""
    return all(t.gaz & (FIRST | LAST) for t in toks[i:j]) and person_context(toks, i, j)


def place_not_person(toks: list[Token], i: int, j: int) -> bool:
    """A PERSON span that is a known place with nothing around it that speaks of a person.

    Many places are also given names or surnames (Paris, Washington, Georgia, Austin). The
    tagger sees no left context at the start of a sentence and leans on the name lists there,
    so "Paris is the capital of France." came out as a person. A span that is exactly one
    place entry opening a sentence (where the tagger had no left context to go by) is read as
    the place when no title, greeting or person verb is beside it and no name follows it.
    """
    first = toks[i]
    if not first.place.startswith("B"):
        return False
    k = i + 1
    while k < len(toks) and toks[k].place.startswith("I"):
        k += 1
    if k != j:
        return False  # more (or fewer) words than the place: "Paris Hilton"
    if person_context(toks, i, j):
        return False
    if not opens_sentence(toks, i):
        return False
    # Weigh the lists' ambiguity: the city list holds 80k towns (Mary, Taylor, Melissa are
    # towns too), so a word that is also a given name or surname stays a person unless it is
    # a state, province or country as well (Washington, Georgia, Paris's department), or the
    # rest of its sentence speaks of a place ("Preston is a city ...", "... its population").
    ambiguous = any(t.gaz & (FIRST | LAST) for t in toks[i:j])
    return not ambiguous or bool(int(first.place[1:]) & (STATE | COUNTRY)) or place_context(toks, j)


# Geography words: a sentence about a place uses them, one about a person rarely does.
_PLACE_WORDS = frozenset(
    "city cities capital country countries state town village province region county island "  # noqa: SIM905
    "coast border borders population inhabitants residents located situated lies founded "
    "destination airport harbour harbor river downtown suburb suburbs km kilometres miles "
    "borough district municipality port metropolitan urban neighbourhood neighborhood "
    "tourists skyline climate".split()
)
_PLACE_WINDOW = 8


def place_context(toks: list[Token], j: int) -> bool:
    """A geography word in the same sentence within a few words after token j - 1."""
    for t in toks[j : j + _PLACE_WINDOW]:
        if t.text in _SENTENCE_END or t.nl:
            return False
        if t.low in _PLACE_WORDS:
            return True
    return False


# Legal forms and words that end company names, as written (case matters: "AS" is a legal
# form, "as" is not). A name or place followed or ended by one is an organisation.
_ORG_ENDS = frozenset(
    "Inc Corp Corporation Ltd Limited LLC LLP PLC plc GmbH AG SA SAS SARL SpA Srl BV NV AB Oy "  # noqa: SIM905
    "KG KGaA ASA Co Company Group Holdings Bank Capital Partners Fund Trust Technologies "
    "Systems Solutions Labs Industries Insurance Airlines Foundation University Institute "
    "Hospital Pharmaceuticals Therapeutics Logistics Consulting Software Networks".split()
)


def organisation(toks: list[Token], i: int, j: int) -> bool:
    """A tagged name or place that is a company ("Neos SA", "Hartmann Logistics GmbH")."""
    if toks[j - 1].text in _ORG_ENDS and j - i > 1:
        return True
    k = j
    if k < len(toks) and toks[k].text == ",":
        k += 1  # "Acme, Inc."
    return k < len(toks) and not toks[k].nl and toks[k].text in _ORG_ENDS


def merge_names(toks: list[Token], found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """A one-word place right before a person on the same line is the given name of that
    person ("Bhekani Mcoomo" read as place + surname), unless it is a state or country."""
    out: list[tuple[str, int, int]] = []
    k = 0
    while k < len(found):
        kind, i, j = found[k]
        if k + 1 < len(found):
            nkind, ni, nj = found[k + 1]
            t = toks[i]
            if (
                kind == "LOCATION"
                and nkind == "PERSON"
                and j - i == 1
                and ni == j
                and not toks[ni].nl
                and _capitalised(t)
                and not t.gaz & (STATE | COUNTRY)
            ):
                out.append(("PERSON", i, nj))
                k += 2
                continue
        out.append((kind, i, j))
        k += 1
    return out


def _capitalised(t: Token) -> bool:
    return t.text[0].isupper() and t.text[1:2].islower()


def extend_name(toks: list[Token], i: int, j: int) -> int:
    """The end of a PERSON span stretched over a surname the tagger stopped before.

    Surnames no list holds ("Kornelia Michalska", "Beatrix A. Veres") are where the tagger
    loses recall: after a known given name it often ends the span. A capitalised word on the
    same line right after a given name is taken as the surname, with a middle initial in
    between, unless it is an everyday word, a title or a place that is no name.
    """
    last = toks[j - 1]
    if not last.gaz & FIRST or not _capitalised(last):
        return j
    n = len(toks)
    k = j
    # A middle initial: "A." or "A".
    if k < n and len(toks[k].text) == 1 and toks[k].text.isupper() and not toks[k].nl:
        k += 1
        if k < n and toks[k].text == ".":
            k += 1
    if k >= n or toks[k].nl or not _capitalised(toks[k]):
        return j
    t = toks[k]
    g = t.gaz
    if g & (TITLE | SSUF | SPRE) or (g & COMMON and not g & LAST):
        return j
    if g & _PLACE and not g & (FIRST | LAST):
        return j
    return k + 1


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
