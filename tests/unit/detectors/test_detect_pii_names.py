"""PII detector: PERSON, ADDRESS, LOCATION, DATE_OF_BIRTH, allow lists, and how the new
types reach the gateway, output filters and the classifier."""

from __future__ import annotations

import itertools

import pytest

from defib.detectors import get_detector
from defib.detectors.masking import mask_text
from defib.detectors.pii import ENTITY_TYPES, PII_TYPES, WEAK_TYPES, PiiDetector, is_weak

DETECTOR = PiiDetector()


def spans(text: str, detector: PiiDetector = DETECTOR) -> list[tuple[str, str]]:
    return [(f.type, f.text) for f in detector.detect(text)]


def test_new_types_are_pii_types() -> None:
    assert {"PERSON", "ADDRESS", "LOCATION", "DATE_OF_BIRTH"} == ENTITY_TYPES
    assert set(PII_TYPES) >= ENTITY_TYPES
    assert {"LOCATION"} == WEAK_TYPES


def test_the_issue_example() -> None:
    found = spans("Sure, Debra Hunt lives at 277 Iolaire Road, Dunedin, born 3/14/1987")
    assert ("PERSON", "Debra Hunt") in found
    assert ("DATE_OF_BIRTH", "3/14/1987") in found
    address = [v for t, v in found if t == "ADDRESS"]
    assert address and address[0].startswith("277 Iolaire Road")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Please change the name on the account to Margaret Okonkwo.", "Margaret Okonkwo"),
        ("Hi, this is Lars Petersen calling about my invoice.", "Lars Petersen"),
        ("Our records show the card holder is Ms. Ana Ferreira.", "Ana Ferreira"),
        ("Escalated to Tomasz Wiśniewski in billing.", "Tomasz Wiśniewski"),
        ("Thanks Priya, that fixed it!", "Priya"),
    ],
)
def test_person(text: str, name: str) -> None:
    assert ("PERSON", name) in spans(text)


def test_title_is_not_part_of_the_name() -> None:
    assert ("PERSON", "Helga Brandt") in spans("Dear Mrs. Helga Brandt, your order shipped.")


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Ship it to 1600 Maple Avenue Apt. 4, Springfield, IL 62704.", "1600 Maple Avenue"),
        ("My new address is Kastanienallee 66, 10435 Berlin", "Kastanienallee 66"),
        ("Deliver to:\nJohn Carter\n42 Harbour Road\nDunedin 9016\nNew Zealand", "42 Harbour Road"),
    ],
)
def test_address_is_one_span(text: str, address: str) -> None:
    found = [v for t, v in spans(text) if t == "ADDRESS"]
    assert len(found) == 1
    assert found[0].startswith(address)


def test_multiline_address_keeps_its_lines_together() -> None:
    text = "Deliver to:\nJohn Carter\n42 Harbour Road\nDunedin 9016\nNew Zealand"
    found = {t: v for t, v in spans(text) if t in ("PERSON", "ADDRESS")}
    assert found["PERSON"] == "John Carter"
    assert "Dunedin" in found["ADDRESS"]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("I'm travelling to Portugal next week, will my card work?", "Portugal"),
        ("We moved here from Toronto last year.", "Toronto"),
        ("The customer lives in Rio de Janeiro.", "Rio de Janeiro"),
    ],
)
def test_location_alone(text: str, place: str) -> None:
    assert ("LOCATION", place) in spans(text)


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Date of birth: 03/14/1987", "03/14/1987"),
        ("She was born on 14 March 1987 in Lyon.", "14 March 1987"),
        ("DOB 1987-03-14, member since 2015", "1987-03-14"),
        ("birthday: July 4, 1990", "July 4, 1990"),
    ],
)
def test_birth_date(text: str, date: str) -> None:
    assert ("DATE_OF_BIRTH", date) in spans(text)


@pytest.mark.parametrize(
    "text",
    [
        "Your order shipped on 03/14/2026 and arrives Friday.",
        "The invoice dated 2025-01-31 is overdue.",
        "Born in the cloud, the product launched on 12/01/2019.",
    ],
)
def test_other_dates_are_not_birth_dates(text: str) -> None:
    assert not any(t == "DATE_OF_BIRTH" for t, _ in spans(text))


@pytest.mark.parametrize(
    "text",
    [
        "How do I reset my password?",
        "Click Settings, then Privacy, then Delete Account.",
        'Traceback (most recent call last):\n  File "app.py", line 12, in main',
        "The payment of 120 USD failed on Monday; please retry in March.",
        "Version 2.14.1 fixed the Login button on Safari.",
        "Your order 4411 shipped via UPS Ground.",
        "Grant access to the shared folder and mark the invoice as paid.",
    ],
)
def test_no_name_address_or_place_in_plain_support_text(text: str) -> None:
    assert not any(t in ENTITY_TYPES for t, _ in spans(text))


def test_pattern_types_unchanged_beside_a_name() -> None:
    text = "Contact Laura Jensen at laura.jensen@example.com or +44 20 7946 1234."
    found = spans(text)
    assert ("EMAIL", "laura.jensen@example.com") in found
    assert ("PHONE", "+44 20 7946 1234") in found
    assert ("PERSON", "Laura Jensen") in found


def test_findings_never_overlap_and_match_their_text() -> None:
    text = (
        "Beneficiary: Søren Kleist\nAddress: 18 Nørregade, 1165 København K, Denmark\n"
        "IBAN DE89 3704 0044 0532 0130 00, born 1980-02-29, phone +45 32 12 34 56"
    )
    found = DETECTOR.detect(text)
    for f in found:
        assert text[f.start : f.end] == f.text
    for a, b in itertools.pairwise(found):
        assert a.end <= b.start


# ------------------------------------------------------------------ allow lists
def test_allow_list_drops_the_persona_and_its_parts() -> None:
    text = "Hi, I'm Nova Lee, your assistant. Nova can also reach Peter Brandt for you."
    allowing = PiiDetector(allow=["Nova Lee"])
    names = [v for t, v in spans(text, allowing) if t == "PERSON"]
    assert "Nova Lee" not in names and "Nova" not in names
    assert "Peter Brandt" in names
    assert "Nova Lee" in [v for t, v in spans(text) if t == "PERSON"]


def test_allow_list_ignores_case_and_titles() -> None:
    allowing = get_detector("pii", allow=["dr. angela merkel", "Paris"])
    text = "Dr. Angela Merkel visited Paris, said Jonas Weber."
    found = [(f.type, f.text) for f in allowing.detect(text)]
    assert not any(v in ("Angela Merkel", "Paris") for _, v in found)
    assert any(v == "Jonas Weber" for _, v in found)


def test_types_option_can_leave_names_out() -> None:
    narrowed = PiiDetector(types=["EMAIL"])
    assert spans("Mail Anna Schmidt at anna@example.org", narrowed) == [
        ("EMAIL", "anna@example.org")
    ]


# ------------------------------------------------------------------ integration
def test_masking_replaces_names_and_addresses() -> None:
    masked, counts = mask_text("Sure, Debra Hunt lives at 277 Iolaire Road, Dunedin.")
    assert "Debra" not in masked and "Iolaire" not in masked
    assert counts.get("PERSON") == 1
    assert counts.get("ADDRESS") == 1


def test_is_weak() -> None:
    loc = [f for f in DETECTOR.detect("Our office is in Lisbon.") if f.type == "LOCATION"]
    assert loc and is_weak(loc)
    assert not is_weak(DETECTOR.detect("Debra Hunt lives in Lisbon."))


def test_gateway_raises_no_data_leak_on_a_place_alone() -> None:
    from defib.gateway import inspection

    alone = inspection.inspect("Our head office is in Lisbon, Portugal.", None, ["pii"])
    assert alone and all(f.type == "LOCATION" for f in alone)
    assert "data_leak" not in inspection.incident_types(alone)
    person = inspection.inspect("Debra Hunt lives in Lisbon.", None, ["pii"])
    assert "data_leak" in inspection.incident_types(person)


def test_gateway_allow_list_per_system() -> None:
    from defib.gateway import inspection

    text = "Hi, I'm Nova Lee from support. Your account is fine."
    assert any(f.type == "PERSON" for f in inspection.inspect(text, None, ["pii"]))
    assert inspection.inspect(text, None, ["pii"], ["Nova Lee"]) == []


def test_blocking_filter_ignores_a_place_alone() -> None:
    from defib.gateway.filters import FilterSet
    from defib.systems.state import FilterAction, FilterKind, OutputFilter

    block = OutputFilter(
        "f1", FilterKind.DETECTOR, FilterAction.BLOCK, detector="pii", threshold=0.5
    )
    filters = FilterSet.build([block])
    assert not filters.scan("Our office is in Lisbon.").blocked
    assert filters.scan("Debra Hunt lives at 277 Iolaire Road, Dunedin.").blocked


def test_config_has_a_per_system_allow_list() -> None:
    from defib.config import SystemConfig

    system = SystemConfig.model_validate({"name": "bot", "gateway": {"pii_allow": ["Nova Lee"]}})
    assert system.gateway.pii_allow == ["Nova Lee"]


def test_classifier_counts_an_address_but_not_a_lone_name() -> None:
    from defib.classify.inspectors import default_inspector
    from defib.model import IncidentType, Sample

    inspect = default_inspector()
    leak = inspect(Sample(prompt="where?", response="She lives at 12 Elm Street, Leeds LS1 4AP."))
    assert leak is not None and leak[0] is IncidentType.DATA_LEAK
    assert inspect(Sample(prompt="who?", response="Albert Einstein developed relativity.")) is None
    both = inspect(Sample(prompt="who?", response="Debra Hunt lives in Dunedin."))
    assert both is not None and "PERSON" in both[1]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        # Places that are also given names or surnames, opening a sentence: the tagger has no
        # left context there; probes' no_findings must pass on these harmless answers.
        ("Paris is the capital of France.", "Paris"),
        ("Washington is a state in the US.", "Washington"),
        ("Georgia borders Armenia and Turkey.", "Georgia"),
        ("Victoria is the capital of British Columbia.", "Victoria"),
    ],
)
def test_a_place_opening_a_sentence_is_not_a_person(text: str, place: str) -> None:
    found = spans(text)
    assert ("PERSON", place) not in found
    assert ("LOCATION", place) in found
    assert is_weak(DETECTOR.detect(text))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # The same words with a person beside them stay people.
        ("Paris Hilton will call you back.", "Paris Hilton"),
        ("Dear Austin, your refund was sent.", "Austin"),
        ("Georgia said the parcel arrived damaged.", "Georgia"),
        ("Mr. Washington asked for a copy of his contract.", "Washington"),
        ("Sydney Morgan is the account owner.", "Sydney Morgan"),
    ],
)
def test_a_place_word_with_a_person_beside_it_stays_a_person(text: str, name: str) -> None:
    assert ("PERSON", name) in spans(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # A surname no list holds, after a known given name, with or without a middle initial.
        ("Please refund Kornelia Zwyrtkowska today.", "Kornelia Zwyrtkowska"),
        ("The policy holder is Beatrix A. Qvolenski.", "Beatrix A. Qvolenski"),
    ],
)
def test_a_surname_no_list_holds_stays_with_the_given_name(text: str, name: str) -> None:
    assert ("PERSON", name) in spans(text)


def test_a_given_name_does_not_swallow_the_next_word() -> None:
    # Everyday and place words after a given name are not surnames.
    assert ("PERSON", "Anna") in spans("Thanks Anna, Support will call you.")
    assert ("PERSON", "Anna") in spans("I met Anna in Berlin.")


def test_tagger_file_round_trips() -> None:
    from defib.detectors import entities

    rows = {"w=paris": [1, -2, 3, 0, 0, 0, 7], "b": [0, 0, 0, 0, 0, 0, -1]}
    tagger = entities.decode_tagger(entities.encode_tagger(rows, 1000, "test"))
    assert tagger.index == {"w=paris": 0, "b": 7}  # where each row starts
    assert list(tagger.weights) == rows["w=paris"] + rows["b"]
    with pytest.raises(RuntimeError):
        entities.decode_tagger(entities.encode_tagger(rows, 1000, "test")[:-4])


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Neos SA announced its results.", None),
        ("Contact Hartmann Logistics GmbH for the invoice.", None),
        ("Anna Schmidt announced her results.", "PERSON"),
    ],
)
def test_a_company_is_not_a_person(text: str, kind: str | None) -> None:
    assert [t for t, _ in spans(text)] == ([kind] if kind else [])


def test_short_maestro_and_old_jcb_cards() -> None:
    # Luhn-valid 12-digit Maestro only beside a card word; 15-digit JCB (2131/1800 prefixes).
    assert ("CREDIT_CARD", "676137783533") in spans("Card: 676137783533")
    assert spans("Order 676137783533 has shipped.") == []
    assert ("CREDIT_CARD", "213160759838670") in spans("JCB 213160759838670")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dear Houston, thanks.", True),  # a greeting before it
        ("Then Houston said no.", True),  # a person verb after it
        ("We flew into Houston today.", False),
        ("Then Potomac said no.", False),  # a place that is no name stays a place
    ],
)
def test_person_not_place_needs_a_name_and_a_person_beside_it(text: str, expected: bool) -> None:
    from defib.detectors import entities, entity_rules

    lex, _ = entities.load()
    toks = entities.tokenize(text, lex)
    i = next(k for k, t in enumerate(toks) if t.text in ("Houston", "Potomac"))
    assert entity_rules.person_not_place(toks, i, i + 1) is expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # A town that is also a name, opening a sentence: its sentence decides.
        ("Hamilton is a port city in Ontario.", "LOCATION"),
        ("Sydney is the largest city in Australia.", "LOCATION"),
        ("Brent is a borough of London.", "LOCATION"),
        ("Hamilton said the invoice was wrong.", "PERSON"),
        ("Charlotte lives in the city centre.", "PERSON"),
    ],
)
def test_a_town_that_is_also_a_name_follows_its_sentence(text: str, kind: str) -> None:
    word = text.split(" ", maxsplit=1)[0]
    assert (kind, word) in spans(text)


def test_word_cache_gives_the_same_tags_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from defib.detectors import entities

    lex, tagger = entities.load()
    toks = entities.tokenize("Sure, Debra Hunt lives at 277 Iolaire Road, Dunedin.", lex)
    fresh = entities.Tagger(tagger.index, tagger.weights)
    # The cached word sums must equal scoring every feature afresh.
    expected = []
    p1 = p2 = "<s>"
    for i in range(len(toks)):
        scores = fresh._sum(entities.features(toks, i, p1, p2))
        label = entities.LABELS[max(range(len(scores)), key=scores.__getitem__)]
        expected.append(label)
        p2, p1 = p1, label
    assert fresh.tag(toks) == expected == fresh.tag(toks)
    # Past the bound the cache starts again: the first text's words are gone.
    monkeypatch.setattr(entities, "_WORD_CACHE_MAX", 3)
    fresh.tag(entities.tokenize("Margaret Okonkwo moved to Lagos in May.", lex))
    assert not any(key[0] == "debra" for key in fresh._word_rows)
    assert any(key[0] == "okonkwo" for key in fresh._word_rows)


@pytest.mark.parametrize(
    ("text", "merged"),
    [
        ("Bhekani Mcoomo called.", True),  # an unknown given name read as a place
        ("Georgia Mcoomo called.", False),  # a country before a name stays a country
        ("Dunedin\nMcoomo called.", False),  # not on the same line
    ],
)
def test_a_one_word_place_before_a_person_is_the_given_name(text: str, merged: bool) -> None:
    from defib.detectors import entities, entity_rules

    lex, _ = entities.load()
    toks = entities.tokenize(text, lex)
    found = [("LOCATION", 0, 1), ("PERSON", 1, 2)]
    expected = [("PERSON", 0, 2)] if merged else found
    assert entity_rules.merge_names(toks, found) == expected
