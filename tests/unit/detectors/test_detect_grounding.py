"""Grounding: claim extraction, normalisation, contradiction vs unsupported, support score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from defib.detectors.grounding import GroundingDetector, extract_claims, support_score

DET = GroundingDetector()
DATA = (
    (Path(__file__).parents[2] / "detectors/test_detect_grounding.py").parent
    / "data"
    / "grounding_dev.jsonl"
)


def kinds(response: str, context: str | None) -> list[tuple[str, str]]:
    return [(f.type, f.text) for f in DET.detect(response, context=context)]


def test_no_context_means_no_findings() -> None:
    """Without context there is nothing to ground against."""
    assert kinds("The refund window is 45 days.", None) == []
    assert kinds("The refund window is 45 days.", "  ") == []


def test_same_attribute_different_value_is_contradiction() -> None:
    """A value for an attribute the context states differently is a CONTRADICTION."""
    assert kinds("The refund window is 45 days.", "Our refund window is 30 days.") == [
        ("CONTRADICTION", "45 days")
    ]


@pytest.mark.parametrize(
    ("response", "context"),
    [
        ("It handles 1,000 requests.", "It handles 1000 requests."),
        ("Uptime is 5%.", "Uptime is 5 percent."),
        ("Returns within 30 days.", "Returns within thirty days."),
        ("The dataset has 1.2 million rows.", "It has 1,200,000 rows."),
        ("Released on March 3, 2025.", "Released 2025-03-03."),
        ("Released on 3 March 2025.", "Released 03/03/2025."),
        ("It costs $49.", "Price: $49.00 per month."),
    ],
)
def test_normalised_values_are_supported(response: str, context: str) -> None:
    """Different spellings of the same number, percentage, money or date are support."""
    assert kinds(response, context) == []


@pytest.mark.parametrize(
    ("response", "context", "label"),
    [
        ("Run pip install fastjsonx.", "Use pip install orjson.", "package"),
        ("See https://a.io/x for more.", "Docs at https://a.io/y", "url"),
        ('He said "never again".', "He said nothing.", "quote"),
        ("Acme Quantum Labs built it.", "It was built in-house.", "entity"),
        ("It has 42 replicas.", "The service runs on Kubernetes.", "number"),
    ],
)
def test_missing_claims_are_unsupported(response: str, context: str, label: str) -> None:
    """Packages, URLs, quotes, names and numbers absent from the context are reported."""
    (f,) = DET.detect(response, context=context)
    assert (f.type, f.label) == ("UNSUPPORTED_CLAIM", label)
    assert response[f.start : f.end] == f.text


def test_extract_claims_finds_each_kind() -> None:
    """The extractor recognises every claim kind."""
    text = (
        'On 2025-01-02 Acme Cloud Services said "all good": 99.9% uptime, $5 per seat, '
        "3 regions; pip install foo; see https://x.io/a"
    )
    assert {c.kind for c in extract_claims(text)} == {
        "date",
        "entity",
        "quote",
        "percent",
        "money",
        "number",
        "package",
        "url",
    }


def test_support_score_bounds() -> None:
    """support_score is 1.0 when all claims are supported and lower when some are not."""
    ctx = "The refund window is 30 days and shipping costs $5."
    assert support_score("Refunds within 30 days, shipping $5.", ctx) == 1.0
    assert support_score("Refunds within 45 days, shipping $5.", ctx) == 0.5
    assert support_score("Hello there.", ctx) == 1.0


def test_dev_set_claim_f1() -> None:
    """Claim-level F1 on the labelled grounding set stays >= 0.85."""
    tp = fp = fn = 0
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        pred = {(f.type, f.text) for f in DET.detect(row["response"], context=row["context"])}
        gold = {(e["type"], e["text"]) for e in row["expected"]}
        tp += len(pred & gold)
        fp += len(pred - gold)
        fn += len(gold - pred)
    assert 2 * tp / (2 * tp + fp + fn) >= 0.85


@pytest.mark.parametrize(
    ("response", "context"),
    [
        ("The job takes 90 minutes.", "The job takes 1.5 hours."),
        ("The trail is 5 km long.", "The trail is 5000 metres long."),
        ("Refunds take about 30 days.", "Refunds take 32 days."),
        ("The app has 1.2 million users.", "The app has 1,234,567 users."),
        ("Acme is based in Germany.", "Acme is based in Munich, Germany."),
        ("Items can be returned within 30 days.", "You may return items within thirty days."),
    ],
)
def test_units_rounding_and_broader_places_are_support(response: str, context: str) -> None:
    """Another unit word, a rounded or hedged figure, or a broader place is not a finding."""
    assert kinds(response, context) == []


def test_hedge_does_not_excuse_a_precise_wrong_number() -> None:
    """ "approximately 386" is precise: a context saying 375 contradicts it."""
    found = DET.detect(
        "The creek is approximately 386 miles long.",
        context="The creek is approximately 375 mi long.",
    )
    assert [(f.type, f.text) for f in found] == [("CONTRADICTION", "386 miles")]


@pytest.mark.parametrize(
    ("response", "context", "span", "label"),
    [
        ("Revenue grew 12% last year.", "Last year, revenue grew by 9%.", "12%",
         "percent_mismatch"),
        ("GitHub acquired Microsoft.", "Microsoft acquired GitHub in 2018.",
         "GitHub acquired Microsoft", "role_reversal"),
        ("Tesla was founded by Henry Ford.", "Tesla was founded in 2003 by Martin Eberhard.",
         "Tesla was founded by Henry Ford", "role"),
        ("Acme is headquartered in Berlin.", "Acme is headquartered in Munich, Germany.",
         "Berlin", "place"),
        ("Warren Bryant was not a CEO.", "Warren Bryant was the CEO of Longs Drugs.",
         "Warren Bryant was not a CEO.", "negation"),
    ],
)  # fmt: skip
def test_contradictions_without_numbers_are_typed_contradiction(
    response: str, context: str, span: str, label: str
) -> None:
    """A changed number, swapped roles, another agent or place, or a flipped negation is a
    CONTRADICTION (not UNSUPPORTED_CLAIM), with the reason as its label."""
    found = DET.detect(response, context=context)
    assert [(f.type, f.text, f.label) for f in found] == [("CONTRADICTION", span, label)]


def test_sentence_built_from_outside_the_context_is_unsupported() -> None:
    """A sentence whose content words the context never uses is reported, at the low score
    of 0.5 that a stricter min_score drops."""
    response = "The heroine trains dragons on a floating island."
    context = "The novel follows a farmer in Kansas during the drought."
    [f] = DET.detect(response, context=context)
    assert (f.type, f.label, f.score) == ("UNSUPPORTED_CLAIM", "novel_content", 0.5)
    assert GroundingDetector(min_score=0.51).detect(response, context=context) == []


def test_quoted_speech_is_checked_as_a_quote_not_by_polarity() -> None:
    """The quote check still owns quoted speech: no negation finding over a quote."""
    found = DET.detect(
        'The CEO said "we will never raise prices".',
        context="The CEO said prices are under review.",
    )
    assert [(f.type, f.label) for f in found] == [("UNSUPPORTED_CLAIM", "quote")]
