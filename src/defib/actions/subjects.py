"""Who leaked data is about: the data subjects, matched against the operator's directory
(pure).

The people an impact assessment lists as affected (and `notify_affected_users` mails after
approval) are those whose own identifiers (e-mail address, phone number, full name) appear
in what a system answered, looked up in `notifications.affected_users`. Never the `user` a
request carried: a client writes whatever it likes there, so counting it would let anyone
with a gateway key have breach notices sent to any person in the directory (issue 25).

An identifier the request itself already held is the client's, not a leak (the same rule
as the gateway's echo check), so a client cannot nominate people by putting their address
in a prompt the model repeats. Comparison is by normalised value: addresses casefolded,
phone numbers by their last ten digits (a country prefix or formatting does not matter),
names casefolded with collapsed spaces and at least two words (a first name alone would
match many people).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# The detector's entity types that can name a person, and what the directory calls them.
IDENTIFIER_TYPES: Mapping[str, str] = {"EMAIL": "email", "PHONE": "phone", "PERSON": "name"}
RULE = (
    "people in notifications.affected_users whose e-mail, phone or full name appears in a "
    "leaked answer and was not in the request; a request's `user` field is never used"
)
PHONE_DIGITS = 10
MIN_PHONE_DIGITS = 7

_NON_DIGIT = re.compile(r"\D")
_NAME_NOISE = re.compile(r"[^\w\s'-]")


@dataclass(frozen=True, slots=True)
class Person:
    """One directory entry: its user id and the identifiers the operator gave for it."""

    user_id: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def email_key(text: str) -> str | None:
    value = text.strip().casefold()
    return value if "@" in value and not any(c.isspace() for c in value) else None


def phone_key(text: str) -> str | None:
    digits = _NON_DIGIT.sub("", text)
    return digits[-PHONE_DIGITS:] if len(digits) >= MIN_PHONE_DIGITS else None


def name_key(text: str) -> str | None:
    words = _NAME_NOISE.sub(" ", text).casefold().split()
    return " ".join(words) if len(words) >= 2 else None


_KEYS = {"email": email_key, "phone": phone_key, "name": name_key}


@dataclass(frozen=True, slots=True)
class _Sent:
    """The request's text, normalised once per way of comparing."""

    folded: str
    digits: str
    words: str

    @classmethod
    def of(cls, text: str) -> _Sent:
        folded = text.casefold()
        return cls(folded, _NON_DIGIT.sub("", text), " ".join(_NAME_NOISE.sub(" ", folded).split()))

    def holds(self, kind: str, key: str) -> bool:
        if kind == "phone":
            return key in self.digits
        if kind == "name":
            return f" {key} " in f" {self.words} "
        return key in self.folded


class SubjectIndex:
    """The directory's identifiers, for matching findings in leaked answers."""

    def __init__(self, people: Iterable[Person]) -> None:
        self._by: dict[tuple[str, str], set[str]] = {}
        self.people = 0
        for person in people:
            self.people += 1
            for kind, values in (
                ("email", person.emails),
                ("phone", person.phones),
                ("name", person.names),
            ):
                for value in values:
                    key = _KEYS[kind](value)
                    if key is not None:
                        self._by.setdefault((kind, key), set()).add(person.user_id)

    def match(self, findings: Iterable[tuple[str, str]], sent: str) -> dict[str, set[str]]:
        """User id -> the entity types that matched, for `(type, text)` findings in one
        answer, leaving out what `sent` (everything the client sent) already held."""
        request = _Sent.of(sent)
        out: dict[str, set[str]] = {}
        for entity, text in findings:
            kind = IDENTIFIER_TYPES.get(entity)
            key = _KEYS[kind](text) if kind is not None else None
            if kind is None or key is None or request.holds(kind, key):
                continue
            for user in self._by.get((kind, key), ()):
                out.setdefault(user, set()).add(entity)
        return out


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


def person(user_id: str, entry: object) -> Person:
    """A directory entry: an address, or a mapping with `email`, `phone`, `name` (each a
    string or a list of them)."""
    if isinstance(entry, Mapping):
        return Person(
            user_id,
            _strings(entry.get("email")),
            _strings(entry.get("phone")),
            _strings(entry.get("name")),
        )
    return Person(user_id, _strings(entry))
