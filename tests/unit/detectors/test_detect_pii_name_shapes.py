"""PII detector, issue 30's second pass: name shapes (particles, joined prefixes, initials,
possessives, romanised names), places opening a sentence about the place ("Milan is famous
for fashion"), nationality words and brands that name no one."""

from __future__ import annotations

import pytest

from defib.detectors import entities, entity_rules
from defib.detectors.pii import PiiDetector

DETECTOR = PiiDetector()


def spans(text: str) -> list[tuple[str, str]]:
    return [(f.type, f.text) for f in DETECTOR.detect(text)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Ludwig van Beethoven wrote nine symphonies.", "Ludwig van Beethoven"),
        ("Please contact Mohammed bin Salman about the lease.", "Mohammed bin Salman"),
        ("The letter was signed by Abdullah al-Rashid.", "Abdullah al-Rashid"),
        ("Forward the contract to J. R. Hartley today.", "J. R. Hartley"),
        ("Ask Dr. Jean-Pierre Dubois for the results.", "Jean-Pierre Dubois"),
        ("Chidi Okonkwo lives in Lagos.", "Chidi Okonkwo"),
    ],
)
def test_a_name_with_particles_prefixes_or_initials_is_one_span(text: str, name: str) -> None:
    assert ("PERSON", name) in spans(text)


def test_a_possessive_is_not_part_of_the_name() -> None:
    assert ("PERSON", "Priyanka") in spans("That is Priyanka's laptop, please return it.")


def test_a_possessive_s_is_its_own_token_and_apostrophe_names_stay_whole() -> None:
    words = entities.TOKEN.findall("Cheryl's car, O'Neil and Anne-Marie's dog")
    assert words[:3] == ["Cheryl", "'", "s"]
    assert "O'Neil" in words
    assert "Anne-Marie" in words


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Milan is famous for fashion.", "Milan"),
        ("Sydney has great beaches.", "Sydney"),
        ("Florence is renowned for its cathedral.", "Florence"),
    ],
)
def test_a_place_opening_a_sentence_about_the_place_is_a_location(text: str, place: str) -> None:
    found = spans(text)
    assert ("LOCATION", place) in found
    assert not [v for t, v in found if t == "PERSON"]


@pytest.mark.parametrize(
    ("text", "about_a_place"),
    [
        ("Milan is famous for fashion.", True),
        ("Sydney has great beaches and a lively nightlife.", True),
        ("Milan is famous for his temper.", False),  # a person word wins
        ("Milan is my brother.", False),
        ("Milan is tall. The fashion district is far.", False),  # only its own sentence counts
    ],
)
def test_place_context_reads_the_rest_of_the_sentence(text: str, about_a_place: bool) -> None:
    lex, _ = entities.load()
    toks = entities.tokenize(text, lex)
    assert entity_rules.place_context(toks, 1) is about_a_place


@pytest.mark.parametrize(
    "text",
    [
        "She read a German novel about Berlin.",
        "We watched a French film last night.",
        "Is the manual available in Italian?",
    ],
)
def test_a_nationality_or_language_word_is_no_person(text: str) -> None:
    assert not [v for t, v in spans(text) if t == "PERSON"]


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        ("She read a German novel.", "German", True),
        ("Dear Mr. French, thanks.", "French", False),  # a title says a person is meant
        ("French said no.", "French", False),  # so does a person verb
        ("Dear Germaine, thanks.", "Germaine", False),  # not a nationality word
    ],
)
def test_nationality_rule(text: str, word: str, expected: bool) -> None:
    lex, _ = entities.load()
    toks = entities.tokenize(text, lex)
    i = next(k for k, t in enumerate(toks) if t.text == word)
    assert entity_rules.nationality(toks, i, i + 1) is expected


@pytest.mark.parametrize(
    "text",
    ["Tesla announced new cars on Monday.", "I drive a Ford and my wife drives a Volvo."],
)
def test_a_brand_that_is_also_a_name_is_no_person(text: str) -> None:
    assert not [v for t, v in spans(text) if t == "PERSON"]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("The van stopped at 18 Old Mill Road yesterday.", "18 Old Mill Road"),
        ("Bitte schicken Sie es an Lindenstrasse 12 in Bern.", "Lindenstrasse 12"),
        ("send it to 77 elm street please", "77 elm street"),
        ("Meet me at 5 Harbour Blvd tomorrow.", "5 Harbour Blvd"),
    ],
)
def test_street_address_grammar_finds_what_the_tagger_misses(text: str, address: str) -> None:
    lex, _ = entities.load()
    toks = entities.tokenize(text, lex)
    found = entity_rules.street_addresses(toks, text != text.lower())
    assert [text[toks[i].start : toks[j - 1].end] for i, j in found] == [address]


@pytest.mark.parametrize(
    "text",
    [
        "helped grow sales 4110 in its mission to lead the market",  # no street word
        "Chapter 3 Getting Started",
        "we counted 12 park benches",  # "park" is a street suffix, but not without capitals
    ],
)
def test_street_address_grammar_needs_a_number_names_and_a_street_word(text: str) -> None:
    lex, _ = entities.load()
    assert entity_rules.street_addresses(entities.tokenize(text, lex), text != text.lower()) == []


def test_a_tagged_street_without_its_number_is_stretched_to_take_it_in() -> None:
    lex, _ = entities.load()
    toks = entities.tokenize("He lives at 111 Blind Bay Road.", lex)
    merged = entity_rules.add_street_addresses(toks, [("ADDRESS", 5, 7)], cased=True)
    assert merged == [("ADDRESS", 3, 7)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Please ask A. Smith to call me.", "A. Smith"),
        ("The report from J.R. Hartley is late.", "J.R. Hartley"),
    ],
)
def test_initials_before_a_surname_belong_to_the_name(text: str, name: str) -> None:
    assert ("PERSON", name) in spans(text)


def test_a_capital_letter_without_a_dot_is_no_initial() -> None:
    lex, _ = entities.load()
    toks = entities.tokenize("A Ford was parked outside.", lex)
    assert entity_rules.add_initials(toks, []) == []
