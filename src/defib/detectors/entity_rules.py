"""The rules that check and repair what the PERSON/ADDRESS/LOCATION tagger found (pure).

The tagger (`entities.py`) reads word by word and sees a few words around each; these rules
look at a whole tagged span and the sentence around it: lower-case words at a name's edge,
acronyms, places that are people ("Dear Austin") and people that are places ("Milan is
famous for fashion"), organisations ("Neos SA"), a given name read as a place before a
surname, a surname the tagger stopped before; brands and settings in a name's slot (a card
network before a card number, the value of a `carrier=` field), and what is never part of a
street address (money, a date's year, "via UPS", a command and its numbers).
"""

from __future__ import annotations

import re

from defib.detectors.entities import (
    COMMON,
    COUNTRY,
    FIRST,
    LAST,
    PLACE,
    SENTENCE_END,
    SPRE,
    SSUF,
    STATE,
    TITLE,
    Token,
)

_NAMES = FIRST | LAST | PLACE


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
    return i == 0 or toks[i].nl or toks[i - 1].text in SENTENCE_END


def person_context(toks: list[Token], i: int, j: int) -> bool:
    """A title, greeting or person verb beside tokens i..j, or a surname after them."""
    prev = toks[i - 1] if i > 0 else None
    if prev is not None and prev.text == "." and i > 1:
        prev = toks[i - 2]  # "Mr. French": the title's dot is a token of its own
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


# Geography words: a sentence about a place uses them, one about a person rarely does. Also
# what places are praised for ("Milan is famous for fashion", "Sydney has great beaches").
_PLACE_WORDS = frozenset(
    "city cities capital country countries state town village province region county island "  # noqa: SIM905
    "coast border borders population inhabitants residents located situated lies founded "
    "destination airport harbour harbor river downtown suburb suburbs km kilometres miles "
    "borough district municipality port metropolitan urban neighbourhood neighborhood "
    "tourists skyline climate its famous renowned beaches beach museums museum cathedral "
    "architecture visitors tourism tourist fashion cuisine food wine weather nightlife "
    "streets mountains lake sea hosts hosted rebuilt landmarks sights".split()
)
# Words that say the sentence is about a person after all ("Milan is famous for his temper").
_PERSON_WORDS = frozenset(
    "he she him his her hers himself herself who whose brother sister mother father son "  # noqa: SIM905
    "daughter wife husband friend cousin uncle aunt boss colleague kids children born "
    "married nurse teacher doctor".split()
)
_PLACE_WINDOW = 10


def place_context(toks: list[Token], j: int) -> bool:
    """A geography word, and no word about a person, in the rest of the sentence (a few
    words) after token j - 1."""
    seen = False
    for t in toks[j : j + _PLACE_WINDOW]:
        if t.text in SENTENCE_END or t.nl:
            break
        if t.low in _PERSON_WORDS:
            return False
        seen = seen or t.low in _PLACE_WORDS
    return seen


# Nationality and language words: capitalised and often in the name lists (German, French,
# English are surnames too), but alone they name no one ("a German film", "in French").
_NATIONALITIES = frozenset(
    "american british english french german italian spanish portuguese dutch swedish danish "  # noqa: SIM905
    "norwegian finnish polish czech russian ukrainian greek turkish chinese japanese korean "
    "indian brazilian mexican canadian australian irish scottish welsh swiss austrian belgian "
    "hungarian romanian egyptian nigerian kenyan israeli iranian arabic arab african european "
    "asian latin thai vietnamese filipino argentine argentinian chilean colombian peruvian "
    "cuban moroccan persian hebrew icelandic estonian latvian lithuanian croatian serbian "
    "slovak slovenian bulgarian albanian georgian armenian mongolian indonesian malaysian "
    "pakistani bengali nepalese ethiopian ghanaian tunisian lebanese syrian jordanian saudi "
    "emirati catalan basque flemish cantonese mandarin tamil punjabi swahili zulu yoruba hindi "
    "urdu scandinavian nordic caribbean hispanic".split()
)


def nationality(toks: list[Token], i: int, j: int) -> bool:
    """A one-word name or place that is a nationality or language with no person beside it
    ("a German film"; "Mr. French said" stays a person)."""
    return j - i == 1 and toks[i].low in _NATIONALITIES and not person_context(toks, i, j)


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
    if g & PLACE and not g & (FIRST | LAST):
        return j
    return k + 1


# Street-type abbreviations the gazetteer's suffix list lacks.
_STREET_ABBREV = frozenset("st rd ave av blvd dr ln ct pl sq hwy pkwy cres terr".split())  # noqa: SIM905
# Endings of one-word street names in Dutch, German, Nordic, Finnish ("Plattenstrasse 33").
_STREET_ENDINGS = (
    "straat", "strasse", "straße", "gasse", "allee", "platz", "plein", "laan", "weg", "gatan",
    "vägen", "gade", "vej", "veien", "vegen", "katu", "tie", "kuja",
)  # fmt: skip
_MAX_STREET_WORDS = 4
# Without capitals the suffix list (which holds "mission", "park", "view") is too loose:
# only these street words count there.
_STREET_WORDS = frozenset(
    "street road avenue lane drive boulevard court place way terrace crescent close highway".split()  # noqa: SIM905
)
_STOP = frozenset("in on at its the a an of to for and or my his her their our your".split())  # noqa: SIM905


def _house_number(t: Token) -> bool:
    return t.text.isdigit() and len(t.text) <= 5


def street_addresses(toks: list[Token], cased: bool) -> list[tuple[int, int]]:
    """Street addresses by grammar, for those the tagger missed: a house number, one to three
    name words and a street word ("111 Blind Bay Road", "2648 fourth avenue"), or a one-word
    street name with a street ending and a house number ("Schietboompleinstraat 430")."""
    out: list[tuple[int, int]] = []
    n = len(toks)
    i = 0
    while i < n:
        t = toks[i]
        end = 0
        if _house_number(t):
            k = i + 1
            while k < n and k - i <= _MAX_STREET_WORDS and not toks[k].nl:
                w = toks[k]
                if not w.text.isalpha() or (cased and not w.text[0].isupper()):
                    break
                if not cased and w.low in _STOP:
                    break  # "4110 in its mission": text without capitals needs a closer look
                street = w.low in _STREET_WORDS if not cased else w.gaz & SSUF
                if k > i + 1 and (street or w.low in _STREET_ABBREV):
                    end = k + 1  # the last street word counts: "Old Mill Road"
                k += 1
        elif (
            t.text.isalpha()
            and (t.text[0].isupper() or not cased)
            and i + 1 < n
            and _house_number(toks[i + 1])
            and not toks[i + 1].nl
            and any(t.low.endswith(e) and len(t.low) > len(e) + 2 for e in _STREET_ENDINGS)
        ):
            end = i + 2
        if end:
            out.append((i, end))
            i = end
        else:
            i += 1
    return out


def add_street_addresses(
    toks: list[Token], found: list[tuple[str, int, int]], cased: bool
) -> list[tuple[str, int, int]]:
    """`found` plus the grammar's street addresses that no tagged address overlaps; a tagged
    name or place inside one gives way to it."""
    out = list(found)
    for i, j in street_addresses(toks, cased):
        hits = [f for f in out if f[1] < j and i < f[2]]
        # A tagged address that starts after the house number ("Bay Road") is stretched to
        # take it in; tagged names and places inside give way.
        starts = [s for kind, s, _ in hits if kind == "ADDRESS"] + [i]
        ends = [e for kind, _, e in hits if kind == "ADDRESS"] + [j]
        out = [f for f in out if f not in hits]
        out.append(("ADDRESS", min(starts), max(ends)))
    return sorted(out, key=lambda f: f[1])


def _initial(toks: list[Token], k: int) -> int:
    """The end of an initial ("J" and its dot) at token k, or 0. Without the dot a capital
    letter is too often a word ("A Ford was parked", "I Love")."""
    t = toks[k]
    if len(t.text) != 1 or not t.text.isupper() or not t.text.isalpha():
        return 0
    if k + 1 < len(toks) and toks[k + 1].text == "." and not toks[k + 1].nl:
        return k + 2
    return 0


def add_initials(
    toks: list[Token], found: list[tuple[str, int, int]]
) -> list[tuple[str, int, int]]:
    """Initials before a surname are part of the name ("J. R. Hartley", "A. Smith").

    The tagger reads the initials' dots as sentence ends and often drops the name. Initials
    followed on the same line by a capitalised word that is a surname (or no everyday word)
    make one PERSON span with it; a name the tagger found right after initials takes them in.
    """
    starts = {i: (kind, i, j) for kind, i, j in found}
    covered = {k for _, i, j in found for k in range(i, j)}
    out = list(found)
    n = len(toks)
    k = 0
    while k < n:
        first = k
        end = _initial(toks, k)
        while end and end < n and not toks[end].nl and _initial(toks, end):
            end = _initial(toks, end)
        if not end or end >= n or toks[end].nl or k in covered:
            k = max(k + 1, end)
            continue
        word = toks[end]
        hit = starts.get(end)
        if hit is not None and hit[0] == "PERSON":
            out[out.index(hit)] = ("PERSON", first, hit[2])
        elif (
            hit is None
            and end not in covered
            and _capitalised(word)
            and (word.gaz & LAST or not word.gaz & (COMMON | TITLE | PLACE))
        ):
            out.append(("PERSON", first, end + 1))
        k = end + 1
    return sorted(out, key=lambda f: f[1])


# ---------------------------------------------------------------- not names, not addresses
# Card networks: a brand that names the card, never its holder ("The Amex 3782 ... was
# declined", "your Visa ending 4242").
_CARD_NETWORKS = frozenset(
    ["amex", "american express", "visa", "visa electron", "mastercard", "master card",
     "maestro", "discover", "jcb", "diners", "diners club", "unionpay", "union pay",
     "china unionpay", "rupay", "cirrus", "elo", "mir", "interac", "eftpos", "carte bleue"]
)  # fmt: skip
# What follows a network's name when it names a card: its number (digits or a mask), or a
# card word.
_CARD_AFTER = frozenset(
    "card cards credit debit ending ends number no num # * x • prepaid gift platinum gold".split()  # noqa: SIM905
)


def card_network(toks: list[Token], i: int, j: int) -> bool:
    """A tagged name that is a card network before a card number or card word ("The Amex
    3769 ... was declined"): a brand in the slot of the card's issuer, not a person."""
    if " ".join(t.low for t in toks[i:j]) not in _CARD_NETWORKS or j >= len(toks):
        return False
    nxt = toks[j]
    return not nxt.nl and (nxt.text[0].isdigit() or nxt.low in _CARD_AFTER)


# Key=value log fields. A value is a person only under a key that names a person; under
# other keys ("carrier=Vodafone", "vendor=Oracle") a capitalised value is a product, a
# company or a setting. Keys are split into words ("request_ip", "userName", "owner.email").
_PERSON_KEYS = frozenset(
    "fullname firstname lastname surname nickname "  # noqa: SIM905
    "user users username usr login person people customer client owner owners "
    "assignee assigned assignees reporter author authors by creator editor approver "
    "reviewer requester requestor submitter sender recipient recipients "
    "contact contacts holder cardholder beneficiary payee payer patient employee emp member "
    "agent operator caller callee guest passenger driver tenant student teacher doctor "
    "physician nurse manager lead signer witness applicant candidate subscriber "
    "actor principal who spouse parent child emergency attn addressee consignee "
    "shipper traveller traveler rider resident occupant visitor buyer seller".split()
)
# Keys whose values are places: a place stays a LOCATION, a person there is the place.
_PLACE_KEYS = frozenset(
    "city town region state province country county location loc place destination dest "  # noqa: SIM905
    "origin birthplace hometown residence area district municipality locality geo".split()
)
# Keys whose values are free text or addresses of any kind ("msg=Anna called back",
# "to=Ana Lima <ana@...>"): the tagger decides there, as in prose.
_OPEN_KEYS = frozenset(
    "msg message text body comment comments note notes description desc summary title "  # noqa: SIM905
    "subject content query prompt input output reply response answer error err reason "
    "details detail log line to from cc bcc".split()
)
# Words of a key that say how a value is written, not what it is.
_GENERIC_KEYS = frozenset(
    "name names full display value val str text label raw given family first last nick".split()  # noqa: SIM905
)
# Keys that end in a person word but hold a thing.
_THING_COMPOUNDS = frozenset(["user agent"])
_QUOTES = frozenset("\"'")
_KEY_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def field_key(toks: list[Token], i: int) -> list[str] | None:
    """The words of the key when token i opens the value of a `key=value` field
    (`carrier=Vodafone`, `owner="Ana Lima"`, `user.name=...`) or of a JSON member
    (`"carrier": "Vodafone"`), else None."""
    if toks[i].nl:
        return None
    k = i - 1
    if k >= 0 and toks[k].text in _QUOTES:
        k -= 1  # a quoted value
    if k < 1 or toks[k].nl:
        return None
    if toks[k].text == ":":
        # Only a quoted key makes a colon a field's: "Contact: Ana Lima" is prose.
        if k < 3 or toks[k - 1].text not in _QUOTES or toks[k - 3].text != toks[k - 1].text:
            return None
        k -= 1
    elif toks[k].text != "=":
        return None
    k -= 1
    parts = [toks[k].text]
    # A dotted key: "user.name=" is three tokens.
    while k >= 2 and toks[k - 1].text == "." and toks[k - 2].text[0].isalnum():
        k -= 2
        parts.insert(0, toks[k].text)
    if not parts[-1][-1].isalnum():
        return None
    return [w.lower() for p in parts for w in _KEY_PART.findall(p)]


def field_kind(toks: list[Token], i: int) -> str | None:
    """What the value of a field at token i is: None when it is no field value or free text
    ("msg=..."), PERSON under
    a person key ("owner=Maria Lopez", "user=Austin", "customer_name=..."), LOCATION under
    a place key ("city=Paris"), and "" (neither) under any other key ("carrier=Vodafone",
    "carrier_name=Verizon").

    The key's last word that says what it holds decides, as in an English compound:
    "name", "display", "full" are generic ("customer_name" is the customer's), and a key of
    generic words only ("name", "full_name") holds a person's name.
    """
    words = field_key(toks, i)
    if words is None:
        return None
    head = [w for w in words if w not in _GENERIC_KEYS]
    if head and head[-1] in _OPEN_KEYS:
        return None
    if not head:
        return "PERSON"
    if " ".join(head[-2:]) in _THING_COMPOUNDS:
        return ""
    if head[-1] in _PLACE_KEYS:
        return "LOCATION"
    if head[-1] in _PERSON_KEYS:
        return "PERSON"
    return ""


# Spans of text that are never part of a street address: a currency amount ("net £26.50",
# "$1,200", "12,50 EUR"), a date with its year ("October 04, 2026", "2026-10-04": a year is
# no house number), and lower-case "via" before an acronym or a brand written with inner
# capitals ("via UPS", "via FedEx": the preposition, not the Italian street word, as in
# "Via Roma 12"; Roman numerals are street names: "via XX Settembre").
_CURRENCY = "$£€¥₹₩₽₺₪₫₱₦₴₸฿¢"
_CODES = "USD|EUR|GBP|CHF|JPY|CNY|INR|AUD|CAD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|BRL|MXN|ZAR|SGD|HKD"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_NOT_ADDRESS = re.compile(
    rf"(?:[{_CURRENCY}]|\b(?:{_CODES})\b)\s?\d[\d,.']*"
    rf"|\d[\d,.']*\s?(?:[{_CURRENCY}]|(?:{_CODES})\b)"
    r"|(?<![\w/.\-])(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2})(?![\w/])"
    rf"|(?i:\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b)"
    rf"|(?i:\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b)"
    r"|\bvia\s+(?![IVXLCDM]+\b)[A-Z][A-Za-z]*[A-Z][A-Za-z]*\b"
)


def not_address(text: str) -> list[tuple[int, int]]:
    """Character spans that a street address is cut clear of (money, dates, "via UPS")."""
    return [m.span() for m in _NOT_ADDRESS.finditer(text)]


_COMMAND_LEN = 6


def command_and_number(words: list[Token]) -> bool:
    """The words of an ADDRESS span that are only a lower-case word and numbers, the word
    short (`_COMMAND_LEN`) or everyday and no street vocabulary ("run chmod 600 on it",
    "sleep 30", "exp 12/27"): a command or a field and its value. A street with its number
    alone has a street word or ending ("Kastanienallee 66", "broadway 12") or a long name
    ("bachlerring 8", written in lower case)."""
    words = [t for t in words if t.text[0].isalnum()]
    if len(words) < 2:
        return False
    word = words[0]
    return (
        word.text.isalpha()
        and word.text.islower()
        and (len(word.text) <= _COMMAND_LEN or bool(word.gaz & COMMON))
        and all(t.text.isdigit() for t in words[1:])
        and not word.gaz & (SSUF | SPRE)
        and not any(word.low.endswith(e) for e in _STREET_ENDINGS)
    )
