"""PII detection: EMAIL, PHONE, CREDIT_CARD, US_SSN, IBAN, IP_ADDRESS, plus SECRET via
`defib.detectors.secrets`, and PERSON, ADDRESS, LOCATION, DATE_OF_BIRTH via
`defib.detectors.entities`.

Each pattern type is a fast regex that proposes candidates and a validator that decides:
Luhn and issuer ranges for cards, `stdnum` for SSNs and IBAN mod-97, `phonenumbers` for
phone numbers, `ipaddress` for IPs. Context words around a candidate veto look-alikes (order
numbers, version strings). Names, street addresses and places come from a small sequence
tagger with gazetteers; birth dates from dates after a birth cue. Overlaps are resolved so
each span carries one type (a validated pattern wins over a tagged span).

`allow` lists names and places that are never reported (the assistant's own persona, staff
who sign answers, public figures a system talks about): see docs/detectors.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.us import ssn as _ssn

from defib.detectors import entities as _ent
from defib.detectors import entity_rules as _rules
from defib.detectors.base import Finding, resolve_overlaps
from defib.detectors.secrets import SecretDetector

NAME = "pii"
VERSION = "1.1.0"

PII_TYPES: tuple[str, ...] = (
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN",
    "IP_ADDRESS",
    "SECRET",
    "PERSON",
    "ADDRESS",
    "LOCATION",
    "DATE_OF_BIRTH",
)
# Found by the tagger and gazetteers (entities.py), not by a pattern and a checksum.
ENTITY_TYPES: frozenset[str] = frozenset(_ent.TYPES)
# Weak evidence of a leak on its own: a place names no one. The gateway raises no data_leak
# alert, an impact assessment counts no affected record, and a blocking output filter does
# not block, on findings of these types alone (they are still masked).
WEAK_TYPES: frozenset[str] = frozenset({"LOCATION"})


def is_weak(findings: Iterable[Finding]) -> bool:
    """True when `findings` hold nothing but weak types (or nothing at all)."""
    return all(f.type in WEAK_TYPES for f in findings)


# On overlap the more specific, checksum-validated type wins.
_PRIORITY = {
    "DATE_OF_BIRTH": 0,
    "LOCATION": -3,
    "PERSON": -2,
    "ADDRESS": -1,
    "SECRET": 7,
    "IBAN": 6,
    "CREDIT_CARD": 5,
    "US_SSN": 4,
    "EMAIL": 3,
    "IP_ADDRESS": 2,
    "PHONE": 1,
}

# ---------------------------------------------------------------- EMAIL
_EMAIL = re.compile(
    # \w is Unicode-aware, so internationalised addresses (zoë@exemple.fr) are covered.
    r"(?<![\w.%+\-])[^\W_](?:[\w.%+\-]{0,63}[\w])?"
    r"@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}"
    r"(?![\w\-]|\.\w)"
)
# `icon@2x.png`, `logo@3x.webp`: asset names, not addresses.
_FILE_TLDS = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "bmp",
        "ico",
        "tif",
        "tiff",
        "pdf",
        "js",
        "ts",
        "css",
        "map",
        "json",
        "txt",
        "md",
        "html",
        "htm",
        "py",
        "rb",
        "zip",
        "gz",
        "tar",
        "mp3",
        "mp4",
        "mov",
        "wav",
    ]
)
_URL_USERINFO_BEFORE = re.compile(r"://[^\s/@]*:$")

# ---------------------------------------------------------------- PHONE
_PHONE = re.compile(
    r"(?<![A-Za-z0-9_@+.\-/])(?:\+|00)?\(?\d[\d \t\u00a0().\-]{5,24}\d(?![A-Za-z0-9_@]|[.\-/]\d)"
)
_NANP_FORMATTED = re.compile(
    r"(?:\+?1[ .\-]?)?(?:\([2-9]\d\d\)[ .\-]?|[2-9]\d\d[ .\-])[2-9]\d\d[ .\-]\d{4}"
)
_NANP_PLAIN = re.compile(r"(?:\+?1)?[2-9]\d\d[2-9]\d{6}")
_DATE_LIKE = re.compile(r"\d{1,4}[ .\-]\d{1,2}[ .\-]\d{1,4}")
_PHONE_WORDS = re.compile(
    r"phone|\btel\b|mobile|cell|call|fax|sms|whatsapp|contact|dial|reach|otp",
    re.IGNORECASE,
)
_ID_WORDS = re.compile(
    r"order|tracking|invoice|\bref|reference|claim|ticket|\bcase\b|acct|account\s+(?:no|number)|"
    r"isbn|ean|serial|sku|transaction|txn|confirmation|booking|policy|member|customer\s+id|"
    r"\bid\b|#",
    re.IGNORECASE,
)
_NATIONAL_REGIONS: tuple[str, ...] = (
    "GB",
    "FR",
    "DE",
    "IT",
    "ES",
    "NL",
    "BE",
    "CH",
    "AT",
    "IE",
    "PT",
    "SE",
    "PL",
    "AU",
    "NZ",
    "IN",
    "JP",
    "BR",
    "MX",
    "ZA",
    "CA",
)

# ---------------------------------------------------------------- CREDIT_CARD
_CARD = re.compile(
    r"(?<![A-Za-z0-9_\-.])"
    r"(?:\d{4}([ \-])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ \-])\d{6}\2\d{4,5}|\d{12,19})"
    r"(?![A-Za-z0-9_]|[\-.]\d)"
)
_CARD_WORDS = re.compile(
    r"card|visa|master|amex|discover|diners|jcb|payment|cc\b|credit|debit", re.IGNORECASE
)

# ---------------------------------------------------------------- US_SSN
_SSN = re.compile(r"(?<![A-Za-z0-9_\-/.+])\d{3}([\- ])\d{2}\1\d{4}(?![A-Za-z0-9_]|[\-/.]\d)")
_SSN_PLAIN = re.compile(r"(?<![A-Za-z0-9_\-/.])\d{9}(?![A-Za-z0-9_]|[\-/.]\d)")
_SSN_WORDS = re.compile(r"ssn|social\s+security|ss#|tax\s*id|tin\b", re.IGNORECASE)

# ---------------------------------------------------------------- IBAN
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
)

# ---------------------------------------------------------------- IP_ADDRESS
_IPV4 = re.compile(r"(?<![A-Za-z0-9_.\-])(?:\d{1,3}\.){3}\d{1,3}(?![A-Za-z0-9_]|\.\d|-\w)")
_IPV6 = re.compile(
    r"(?<![A-Za-z0-9_:.])(?:[0-9A-Fa-f]{1,4}:|:)(?:[0-9A-Fa-f]{0,4}:){1,7}"
    r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![A-Za-z0-9_:.]|\.\d)"
)
# `version 5.3.9.238`, `firmware is 12.1.3.74`, `v1.2.3.4`: dotted quads that are versions.
_VERSION_BEFORE = re.compile(
    r"(?:\bv\.?[ \t]*|@"
    r"|\b(?:versions?|ver|releases?|released|rel|firmware|fw|build|rev|revision|patch|"
    r"kernel|sdk|driver|bios|package|pkg|update|upgrade|oid|snmp|python|java|ruby|php|perl|"
    r"golang|rust|chrome|firefox|android|ios|windows|macos|ubuntu|debian|centos|rhel)\.?"
    r"[ \t]*(?:(?:is|was|as|of|to|from|now|number|no\.?|nr|=|:|-)[ \t]*){0,2})$",
    re.IGNORECASE,
)


_DIGIT = re.compile(r"\d")
_NON_DIGIT = re.compile(r"\D")


def _before(text: str, start: int, width: int) -> str:
    return text[max(0, start - width) : start]


class PiiDetector:
    """Personal data and secrets in free text (chatbot responses, logs, tickets)."""

    name = NAME
    version = VERSION

    def __init__(
        self,
        *,
        types: Iterable[str] | None = None,
        min_score: float = 0.5,
        default_region: str = "US",
        national_regions: Sequence[str] = _NATIONAL_REGIONS,
        entropy_threshold: float = 3.0,
        allow: Iterable[str] = (),
    ) -> None:
        wanted = frozenset(t.strip().upper() for t in types) if types is not None else None
        if wanted is not None and not wanted <= set(PII_TYPES):
            unknown = ", ".join(sorted(wanted - set(PII_TYPES)))
            raise ValueError(f"unknown PII type(s): {unknown}; known: {', '.join(PII_TYPES)}")
        self.types: frozenset[str] = wanted if wanted is not None else frozenset(PII_TYPES)
        self.min_score = min_score
        self.default_region = default_region.upper()
        self.national_regions = tuple(r.upper() for r in national_regions)
        self._secrets = SecretDetector(min_score=min_score, entropy_threshold=entropy_threshold)
        self._entities = bool(self.types & ENTITY_TYPES)
        # Allowed names and places, normalised (casefolded words, no titles).
        self.allow: frozenset[str] = frozenset(a for a in map(_ent.normalise, allow) if a)
        # Single words of allowed multi-word names: `Nova` alone is `Nova Lee`'s first name.
        self._allow_parts: frozenset[str] = frozenset(
            w for a in self.allow if " " in a for w in a.split(" ")
        )

    def detect(self, text: str, *, context: str | None = None) -> list[Finding]:
        """Find PII in `text`; `context` is ignored."""
        found: list[Finding] = []
        # SECRET, IBAN and cards always run: they are needed to veto overlapping weaker types
        # even when the caller asked for fewer types.
        found.extend(self._secrets.detect(text))
        if _DIGIT.search(text):
            found.extend(self._ibans(text))
            found.extend(self._cards(text))
            found.extend(self._ssns(text))
            found.extend(self._ips(text))
            found.extend(self._phones(text))
        elif ":" in text:
            found.extend(self._ips(text))
        if "@" in text:
            found.extend(self._emails(text))
        found = [f for f in found if f.score >= self.min_score]
        if self._entities:
            patterns = resolve_overlaps(found, _PRIORITY)
            named = [
                f
                for f in self._named(text, patterns)
                if f.score >= self.min_score and not self._allowed(f)
            ]
            found = patterns + named
        kept = resolve_overlaps(found, _PRIORITY)
        return [f for f in kept if f.type in self.types]

    # ------------------------------------------------------------ PERSON, ADDRESS, ...
    def _named(self, text: str, patterns: list[Finding]) -> Iterator[Finding]:
        """Birth dates; tagged names, addresses and places cut clear of pattern findings and
        birth dates."""
        if _DIGIT.search(text):
            births = [
                self._f(text, "DATE_OF_BIRTH", s, e, _ent.SCORES["DATE_OF_BIRTH"])
                for s, e in _ent.birth_dates(text)
            ]
            yield from births
            patterns = patterns + births
        if not _ent.has_letters(text):
            return
        lex, tagger = _ent.load()
        toks = _ent.tokenize(text, lex)
        cased = text != text.lower()
        found = _rules.merge_names(toks, _ent.spans(toks, tagger.tag(toks)))
        if cased:
            found = _rules.add_initials(toks, found)
        not_address: list[tuple[int, int]] | None = None  # computed for the first address
        for tagged, first, last in _rules.add_street_addresses(toks, found, cased):
            kind, i, j = tagged, first, last
            if kind != "ADDRESS":
                checked = _name_or_place(toks, kind, i, j, cased)
                if checked is None:
                    continue
                kind, i, j = checked
            # A person's title is not part of the name; trailing punctuation is not the span's.
            while i < j and (
                (kind == "PERSON" and toks[i].gaz & _ent.TITLE and j - i > 1)
                or not toks[i].text[0].isalnum()
            ):
                i += 1
            while j > i and not toks[j - 1].text[0].isalnum():
                j -= 1
            if i >= j:
                continue
            start, end = toks[i].start, toks[j - 1].end
            # Pattern findings (a phone in a signature, an e-mail) are not part of the span;
            # nor are money, dates and "via UPS" part of an address.
            cuts: list[tuple[int, int]] = [(p.start, p.end) for p in patterns]
            if kind == "ADDRESS":
                if not_address is None:
                    not_address = _rules.not_address(text)
                cuts += not_address
            for cut_start, cut_end in cuts:
                if cut_start < end and start < cut_end:
                    if cut_start - start >= end - cut_end:
                        end = cut_start
                    else:
                        start = cut_end
            value = text[start:end].strip(" \t\n,;:>-(")
            if not value or not _ent.has_letters(value):
                continue
            start = text.index(value, start)
            if kind == "ADDRESS" and not _address_ok(toks[i:j], value, start):
                continue
            yield self._f(text, kind, start, start + len(value), _ent.SCORES[kind])

    def _allowed(self, f: Finding) -> bool:
        if not self.allow or f.type not in ("PERSON", "LOCATION"):
            return False
        value = _ent.normalise(f.text)
        return value in self.allow or (f.type == "PERSON" and value in self._allow_parts)

    # ------------------------------------------------------------ helpers
    def _f(
        self, text: str, kind: str, start: int, end: int, score: float, label: str | None = None
    ) -> Finding:
        return Finding(kind, start, end, score, NAME, VERSION, text[start:end], label)

    # ------------------------------------------------------------ EMAIL
    def _emails(self, text: str) -> Iterator[Finding]:
        for m in _EMAIL.finditer(text):
            value = m.group()
            if value.rsplit(".", 1)[1].lower() in _FILE_TLDS:
                continue
            if _URL_USERINFO_BEFORE.search(_before(text, m.start(), 200)):
                continue  # `scheme://user:password@host` is a credential, not an address
            yield self._f(text, "EMAIL", m.start(), m.end(), 0.95)

    # ------------------------------------------------------------ PHONE
    def _phones(self, text: str) -> Iterator[Finding]:
        for m in _PHONE.finditer(text):
            cand, start = m.group(), m.start()
            # Trim separators the regex may carry at the edges, e.g. an unmatched "(".
            while cand and cand[0] in "( \t":
                if cand[0] == "(" and ")" in cand.split("(", 1)[1][:6]:
                    break
                cand, start = cand[1:], start + 1
            found = self._phone(text, cand, start)
            if found is not None:
                yield found

    def _phone(self, text: str, cand: str, start: int) -> Finding | None:
        digits = _NON_DIGIT.sub("", cand)
        if not 7 <= len(digits) <= 15 or cand.count("(") != cand.count(")"):
            return None
        has_sep = len(digits) != len(cand.lstrip("+"))
        # Cheap shape test first: most candidates (dates, amounts, ids) fail here.
        if not (
            cand[0] in "+0"
            or cand.startswith("(0")
            or _NANP_FORMATTED.fullmatch(cand)
            or _NANP_PLAIN.fullmatch(cand)
            or (has_sep and len(digits) >= 8)
        ):
            return None
        before = _before(text, start, 32)
        near_before = _before(text, start, 20)
        phone_ctx = bool(_PHONE_WORDS.search(before))
        if _ID_WORDS.search(near_before) and not _PHONE_WORDS.search(near_before):
            return None
        end = start + len(cand)

        if cand.startswith(("+", "00")):
            raw = "+" + cand[2:] if cand.startswith("00") else cand
            try:
                num = phonenumbers.parse(raw, None)
            except phonenumbers.NumberParseException:
                return None
            if num.country_code == 1:
                if not _NANP_PLAIN.fullmatch(str(num.national_number)):
                    return None
                score = 0.9 if phonenumbers.is_valid_number(num) else 0.8
            elif phonenumbers.is_valid_number(num):
                score = 0.9
            elif phonenumbers.is_possible_number(num) and phone_ctx:
                score = 0.6
            else:
                return None
            region = phonenumbers.region_code_for_country_code(num.country_code or 0)
            return self._f(text, "PHONE", start, end, score, region)

        if cand.startswith("0") or cand.startswith("(0"):
            if len(digits) < 9 or _DATE_LIKE.fullmatch(cand):
                return None
            if not has_sep and not phone_ctx:
                return None
            for region in (self.default_region, *self.national_regions):
                try:
                    num = phonenumbers.parse(cand, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(num):
                    return self._f(text, "PHONE", start, end, 0.8, region)
            return None

        # NANP: any area/exchange in the assignable ranges counts (many are unassigned today
        # but the shape is unambiguous when written 3-3-4).
        if _NANP_FORMATTED.fullmatch(cand) or (_NANP_PLAIN.fullmatch(cand) and phone_ctx):
            try:
                num = phonenumbers.parse(cand, "US")
            except phonenumbers.NumberParseException:
                return None
            if not phonenumbers.is_possible_number(num):
                return None
            score = 0.9 if phonenumbers.is_valid_number(num) else 0.8
            if not has_sep:
                score = 0.7
            return self._f(text, "PHONE", start, end, score, "US")

        # Countries without a trunk prefix (ES, PL, PT, MX, ...) write bare national numbers;
        # those are only believable next to a word such as "call" or "phone".
        if (
            has_sep
            and len(digits) >= 8
            and (phone_ctx or self.default_region != "US")
            and not _DATE_LIKE.fullmatch(cand)
        ):
            regions = (
                (self.default_region, *self.national_regions)
                if phone_ctx
                else (self.default_region,)
            )
            for region in regions:
                try:
                    num = phonenumbers.parse(cand, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(num):
                    return self._f(text, "PHONE", start, end, 0.7, region)
        return None

    # ------------------------------------------------------------ CREDIT_CARD
    def _cards(self, text: str) -> Iterator[Finding]:
        for m in _CARD.finditer(text):
            start, cand = m.start(), m.group()
            digits = "".join(c for c in cand if c.isdigit())
            if not _card_ok(digits) and m.group(1) and len(digits) > 16:
                # `4111 1111 1111 1111 08` : a trailing group that belongs to the next token
                cand = cand[:19]
                digits = digits[:16]
            if not _card_ok(digits):
                continue
            score = 0.95
            before = _before(text, start, 32)
            # Twelve digits (short Maestro cards) are also order and account numbers: only
            # beside a card word.
            if len(digits) < 13 and not _CARD_WORDS.search(before):
                continue
            if _ID_WORDS.search(before) and not _CARD_WORDS.search(before):
                score = 0.4
            yield self._f(text, "CREDIT_CARD", start, start + len(cand), score, _brand(digits))

    # ------------------------------------------------------------ US_SSN
    def _ssns(self, text: str) -> Iterator[Finding]:
        for m in _SSN.finditer(text):
            digits = m.group().replace("-", "").replace(" ", "")
            if not _ssn.is_valid(digits):
                continue
            ctx = bool(_SSN_WORDS.search(_before(text, m.start(), 40)))
            if m.group(1) == " " and not ctx:
                continue  # `372 12 3456` is as likely a phone number's tail
            yield self._f(text, "US_SSN", m.start(), m.end(), 0.9)
        for m in _SSN_PLAIN.finditer(text):
            if _SSN_WORDS.search(_before(text, m.start(), 40)) and _ssn.is_valid(m.group()):
                yield self._f(text, "US_SSN", m.start(), m.end(), 0.7)

    # ------------------------------------------------------------ IBAN
    def _ibans(self, text: str) -> Iterator[Finding]:
        for m in _IBAN.finditer(text):
            cand = m.group()
            # The greedy match may swallow a following code-like word; try group boundaries
            # from longest to shortest.
            ends = [len(cand)] + [i for i in range(len(cand) - 1, 4, -1) if cand[i] == " "]
            for end in ends:
                if _iban.is_valid(cand[:end].replace(" ", ""), check_country=False):
                    yield self._f(text, "IBAN", m.start(), m.start() + end, 0.95)
                    break

    # ------------------------------------------------------------ IP_ADDRESS
    def _ips(self, text: str) -> Iterator[Finding]:
        if "." in text:
            for m in _IPV4.finditer(text):
                try:
                    ipaddress.IPv4Address(m.group())
                except ValueError:
                    continue
                if _VERSION_BEFORE.search(_before(text, m.start(), 40)):
                    continue
                yield self._f(text, "IP_ADDRESS", m.start(), m.end(), 0.85, "ipv4")
        if "::" in text or text.count(":") >= 7:
            for m in _IPV6.finditer(text):
                value = m.group()
                if sum(c in "0123456789abcdefABCDEF" for c in value) < 4:
                    continue
                # Eight short groups without `::` are MAC/EUI-64 or ratios, not addresses.
                if "::" not in value and sum(len(g) >= 3 for g in value.split(":")) < 2:
                    continue
                try:
                    ipaddress.IPv6Address(value)
                except ValueError:
                    continue
                yield self._f(text, "IP_ADDRESS", m.start(), m.end(), 0.85, "ipv6")


def _name_or_place(
    toks: list[_ent.Token], kind: str, i: int, j: int, cased: bool
) -> tuple[str, int, int] | None:
    """A tagged PERSON or LOCATION span checked and repaired by the rules (entity_rules.py):
    its type and edges, or None when it is neither."""
    if cased:
        i, j = _rules.trim_common(toks, i, j)
    if i >= j or _rules.implausible(toks, i, j, cased):
        return None
    if cased and (_rules.organisation(toks, i, j) or _rules.nationality(toks, i, j)):
        return None
    if _rules.card_network(toks, i, j):
        return None
    # A key=value field's key says what its value is.
    field = _rules.field_kind(toks, i)
    if field == "":
        return None
    if field is not None:
        kind = field
        if kind == "PERSON" and cased:
            j = _rules.extend_name(toks, i, j)
    elif kind == "PERSON" and cased:
        if _rules.place_not_person(toks, i, j):
            kind = "LOCATION"
        else:
            j = _rules.extend_name(toks, i, j)
    elif kind == "LOCATION" and cased and _rules.person_not_place(toks, i, j):
        kind = "PERSON"
    return kind, i, j


def _address_ok(toks: list[_ent.Token], value: str, start: int) -> bool:
    """A street address has a house, box or postal number, more than one word, and a word
    of letters (not only codes such as `PT50 3973`), and is more than a command or field
    and its numbers (`chmod 600`); `toks` are the span's tokens, `value` what is left of
    it at `start` after cuts."""
    words = [t for t in toks if start <= t.start and t.end <= start + len(value)]
    return (
        sum(t.text[0].isalnum() for t in words) >= 2
        and not _rules.command_and_number(words)
        and _DIGIT.search(value) is not None
        and any(len(t.text) >= 3 and t.text.isalpha() for t in words)
    )


def _brand(digits: str) -> str | None:
    n = len(digits)
    p2, p4, p6 = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or p2 == 65 or 644 <= p4 // 10 <= 649) and 16 <= n <= 19:
        return "discover"
    if (300 <= p4 // 10 <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if (3528 <= p4 <= 3589 and 16 <= n <= 19) or (p4 in (1800, 2131) and n == 15):
        return "jcb"  # 15-digit JCB cards keep the old 1800 and 2131 prefixes
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 69 or 222100 <= p6 <= 272099) and 12 <= n <= 19:
        return "maestro"
    return None


def _card_ok(digits: str) -> bool:
    return 12 <= len(digits) <= 19 and _brand(digits) is not None and _luhn.is_valid(digits)
