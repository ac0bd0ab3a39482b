"""PII detector: text that looks like a name or a street address to the tagger but is not
one: shell commands with numbers, money, "<date> via <carrier>", card networks before a card
number, values of key=value fields whose key names no person. The sentences are written for
these tests; each kind also has sentences that must stay found."""

from __future__ import annotations

import pytest

from defib.detectors.pii import PiiDetector

DETECTOR = PiiDetector()


def spans(text: str) -> list[tuple[str, str]]:
    return [(f.type, f.text) for f in DETECTOR.detect(text)]


def of_type(text: str, kind: str) -> list[str]:
    return [v for t, v in spans(text) if t == kind]


# ---------------------------------------------------------------- addresses that are not
@pytest.mark.parametrize(
    "text",
    [
        # A command and its numeric argument.
        "Save it as ~/.ssh/prod_key and run chmod 600 on it.",
        "Store the file as ~/.aws/config and run chmod 400 on it.",
        # Money after a word: a currency amount is never a house number.
        "Payout row: Ana Silva, DE89 3704 0044 0532 0130 00, net €310.75",
        "Payout row: Ana Silva, DE89 3704 0044 0532 0130 00, net £310.75",
        # A date's year, then "via" and a carrier: the preposition, not the street word.
        "Order 88123 shipped on June 12, 2025 via USPS (tracking 9400).",
        "Your parcel left the depot on March 3, 2025 via DHL and should arrive Friday.",
        # A field and its numbers after a card number.
        "Card: Visa 4111 1111 1111 1111 exp 12/27",
    ],
)
def test_no_address(text: str) -> None:
    assert of_type(text, "ADDRESS") == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("She lives at Via Roma 12, Milano.", "Via Roma 12"),
        ("Send it to 12 rue de la Paix, Paris.", "12 rue de la Paix"),
        ("Ship the $40 order to 77 Beacon Street, Boston.", "77 Beacon Street"),
        ("The €25 voucher goes to Kastanienallee 66, 10435 Berlin.", "Kastanienallee 66"),
        ("ship it to 2648 fourth avenue please", "2648 fourth avenue"),
        # A one-word street in lower case with its number is no command: its name is long.
        ("the parcel goes to maria keller, lindenring 14.", "lindenring 14"),
    ],
)
def test_address_beside_money_or_via_stays(text: str, address: str) -> None:
    found = of_type(text, "ADDRESS")
    assert found and found[0].startswith(address)


# ---------------------------------------------------------------- names that are not
@pytest.mark.parametrize(
    "text",
    [
        "The Amex 3782 822463 10005 was declined at checkout.",
        "The Amex 3714 496353 98431 was declined twice today.",
    ],
)
def test_card_network_is_no_person(text: str) -> None:
    assert of_type(text, "PERSON") == []
    assert of_type(text, "CREDIT_CARD")


def test_network_word_as_a_name_stays() -> None:
    # "Elo" is a card network and a given name: only before a card number is it the card.
    assert ("PERSON", "Elo Mäkinen") in spans("Elo Mäkinen signed the form yesterday.")


@pytest.mark.parametrize(
    "text",
    [
        "Sent verification code to +14155550100 carrier=Verizon request_ip=10.1.2.3 status=ok",
        "otp_sent phone=+442071838750 carrier=Orange vendor=Twilio provider=Sinch",
        "level=info msg=charged carrier_name=Verizon",
    ],
)
def test_field_value_under_a_thing_key_is_no_person(text: str) -> None:
    assert of_type(text, "PERSON") == []
    assert of_type(text, "LOCATION") == []


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("level=info event=assigned assignee=Jane Doe ticket=4412", "PERSON", "Jane Doe"),
        ("audit reviewedBy=Tom Becker action=approve", "PERSON", "Tom Becker"),
        ('checkout customer_name="Rosa Diaz" total=18', "PERSON", "Rosa Diaz"),
        ("login ok user=Austin ip=10.0.0.3", "PERSON", "Austin"),
        ("sync owner=Maria Lopez vendor=Stripe", "PERSON", "Maria Lopez"),
        ('{"event": "signup", "name": "Ana Lima", "plan": "pro"}', "PERSON", "Ana Lima"),
        # Free text: the tagger decides, as in prose.
        ('level=info msg="Jonas Weber asked for a refund"', "PERSON", "Jonas Weber"),
        ("relay ok to=Ana Lima status=sent", "PERSON", "Ana Lima"),
        # A place key: the value is the place.
        ("geo lookup city=Austin country=US", "LOCATION", "Austin"),
    ],
)
def test_field_value_under_a_person_key_stays(text: str, kind: str, value: str) -> None:
    assert (kind, value) in spans(text)
