"""Toxicity: the lexicon (obfuscation, word boundaries, offsets) and the n-gram model on top."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defib.detectors.toxicity import ToxicityDetector, normalise

DET = ToxicityDetector()
LEX = ToxicityDetector(backend="lexicon")
DATA = (
    (Path(__file__).parents[2] / "detectors/test_detect_toxicity.py").parent
    / "data"
    / "toxicity_dev.jsonl"
)


def hits(text: str) -> list[tuple[str, str | None]]:
    return [(f.text, f.label) for f in LEX.detect(text)]


@pytest.mark.parametrize(
    ("text", "span", "label"),
    [
        ("you are an idiot", "idiot", "insult"),
        ("You IDIOOOOT!!", "IDIOOOOT", "insult"),
        ("y0u 1d10t", "1d10t", "insult"),
        ("i d i o t", "i d i o t", "insult"),
        ("i.d.i.o.t", "i.d.i.o.t", "insult"),
        ("f*ck this", "f*ck", "profanity"),
        ("sh!t happens", "sh!t", "profanity"),
        ("\uff46\uff55\uff43\uff4b", "\uff46\uff55\uff43\uff4b", "profanity"),
        ("you are an \u0456d\u0456\u043et", "\u0456d\u0456\u043et", "insult"),
        ("idi\u200bot", "idi\u200bot", "insult"),
        ("I will k i l l you", "I will k i l l you", "violence"),
        ("go kill yourself", "kill yourself", "self_harm"),
        ("what an a$$hole", "a$$hole", "insult"),
    ],
)
def test_obfuscated_terms_found_with_original_offsets(text: str, span: str, label: str) -> None:
    """Leetspeak, stretching, spacing, confusables and zero-width chars still match, and the
    span is the original (un-normalised) substring."""
    assert (span, label) in hits(text)


@pytest.mark.parametrize(
    "text",
    [
        "The Scunthorpe office",
        "class imbalance",
        "please assess",
        "the assassin bug",
        "kill the process with kill -9",
        "the cockpit recorder",
        "a pinch of cumin",
        "Room 455 next to the A55",
        "Mississippi",
        "a skilled engineer",
        "grasshopper",
        "Sussex and Essex",
        "therapist",
        "U S A and a b c d",
    ],
)
def test_scunthorpe_and_lookalikes_do_not_fire(text: str) -> None:
    """Whole-word matching keeps innocent words containing a term clean, model or not."""
    assert hits(text) == []
    assert DET.detect(text) == []


def test_category_filter() -> None:
    """`categories=` restricts which labels are reported."""
    det = ToxicityDetector(categories=["self_harm"])
    assert [f.label for f in det.detect("idiot, kill yourself")] == ["self_harm"]


def test_unknown_backend_rejected() -> None:
    """Backends other than lexicon / profanity-check are an error."""
    with pytest.raises(ValueError, match="backend"):
        ToxicityDetector(backend="gpt")


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_normalise_index_maps_into_original(text: str) -> None:
    """Every normalised character maps to a valid original index, in non-decreasing order."""
    norm, index = normalise(text)
    assert len(norm) == len(index)
    assert all(0 <= i < len(text) for i in index)
    assert index == sorted(index)


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from(list("idot .!1*0 fuckshyaxX")), max_size=60))
def test_findings_are_exact_substrings(text: str) -> None:
    """Finding offsets always slice out the finding's text."""
    for f in DET.detect(text):
        assert text[f.start : f.end] == f.text
        assert f.start < f.end


@pytest.mark.parametrize(("det", "floor"), [(LEX, 0.9), (DET, 0.85)], ids=["lexicon", "model"])
def test_dev_set_precision_and_recall(det: ToxicityDetector, floor: float) -> None:
    """Precision >= 0.9 and recall >= floor on the labelled set written beside the code (the
    model trades some recall there, on untargeted swearing, for fewer false flags)."""
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 80
    flagged = [(bool(det.detect(r["text"])), r["toxic"]) for r in rows]
    tp = sum(p and g for p, g in flagged)
    precision = tp / sum(p for p, _ in flagged)
    recall = tp / sum(g for _, g in flagged)
    assert precision >= 0.9
    assert recall >= floor


@pytest.mark.parametrize(
    "text",
    [
        "Those refugees are nothing but a plague on us.",
        "Disabled folks should just be locked away.",
        pytest.param(
            "Jews are greedy parasites",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known miss since the 2.1 retrain (score 0.43): the old written "
                "training sentences had `are parasites` verbatim, the rewritten ones do not",
            ),
        ),
    ],
)
def test_model_flags_dehumanising_text_without_a_listed_word(text: str) -> None:
    """No lexicon term, still flagged: one `abuse` finding spanning the sentence."""
    assert LEX.detect(text) == []
    [finding] = DET.detect(text)
    assert (finding.label, finding.text) == ("abuse", text)
    assert finding.score >= 0.5


def test_model_finding_spans_the_most_toxic_sentence() -> None:
    """In a longer text the span is the sentence carrying the abuse, not the whole text."""
    text = "Sure. Refugees are nothing but a plague on us. See you."
    [finding] = DET.detect(text)
    assert finding.text == "Refugees are nothing but a plague on us."


@pytest.mark.xfail(
    strict=True,
    reason="known blind spot: the whole text is scored at once (features scaled by "
    "1/sqrt(count)), so clean sentences dilute one abusive sentence (0.45 here, 0.79 alone)",
)
def test_one_abusive_sentence_among_clean_ones_is_flagged() -> None:
    """What per-sentence scoring would fix (issue #33 follow-up)."""
    text = "The weather was fine today. Immigrants are a plague and should go. See you at noon."
    assert DET.detect(text)


@pytest.mark.parametrize(
    "text",
    [
        "The article covers suicide prevention hotlines.",
        "We benchmarked how fast the killer feature of the new release ran.",
        "The model returned an error when parsing the JSON payload.",
        "I love black people and I love my gay neighbours.",
    ],
)
def test_model_leaves_neutral_mentions_clean(text: str) -> None:
    """A topic word (suicide) or a group name in a neutral sentence is not a finding."""
    assert DET.detect(text) == []


def test_strong_terms_are_reported_whatever_the_model_says() -> None:
    """Direct threats and self-harm statements stand on the lexicon alone."""
    labels = {f.label for f in DET.detect("i want to end my life. also, I will kill you")}
    assert labels == {"self_harm", "violence"}


def test_min_score_is_the_model_threshold() -> None:
    """Scores are rescaled so 0.5 is the tuned threshold: raising min_score flags less."""
    text = "Immigrants are a plague."
    score = DET.score(text)
    assert score >= 0.5
    assert DET.detect(text)
    assert ToxicityDetector(min_score=min(1.0, score + 0.01)).detect(text) == []
    assert DET.score("Thanks, that fixed my build.") < 0.5


def test_model_category_filter_knows_abuse() -> None:
    """`abuse` (a model finding with no lexicon term) is a category one can select or drop."""
    text = "Immigrants are a plague."
    assert ToxicityDetector(categories=["insult"]).detect(text) == []
    assert [f.label for f in ToxicityDetector(categories=["abuse"]).detect(text)] == ["abuse"]


@pytest.mark.skipif(
    importlib.util.find_spec("profanity_check") is None,
    reason="optional alt-profanity-check not installed",
)
def test_profanity_check_backend_scores_whole_text() -> None:
    """The model backend flags toxic text the lexicon misses and leaves clean text alone."""
    det = ToxicityDetector(backend="profanity-check", model_threshold=0.5)
    assert det.detect("have a lovely day, thanks for the help") == []
    assert det.detect("you idiot")[0].label == "insult"
