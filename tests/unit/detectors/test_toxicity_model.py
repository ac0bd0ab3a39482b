"""Toxicity model: the inline fast path scores exactly what the trainer's features score, the
shipped weights are the ones toxicity.json records, and the written training sentences keep
clear of evaluation material."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defib.detectors.ngrams import bucket, hash_token, token_features
from defib.detectors.toxicity import (
    _PATTERN_SOURCE,
    _fold,
    _matches,
    featurise,
    load_model,
    model_probability,
    normalise,
)

_CYRILLIC_IDIOT = "\u0456d\u0456\u043et"  # Cyrillic look-alike letters
_SCORE_WORDS = [
    *("you", "the", "women", "are", "idiot", "k", "i", "l", "1d10t", "f*ck", "Muslims"),
    *("...", "!!", "can't", "go", "back", "caf\u00e9", _CYRILLIC_IDIOT),
]
_LEXICON_WORDS = [
    *("idiot", "1d10t", "id1ot", "stuuupid", "k", "i", "l", "kill", "yourself", "piece"),
    *("of", "shit", "sh!t", "f*ck", "a$$hole", "moron", "class", "Scunthorpe", "455"),
    *("you", "the", "!", ",", "'", "-", ".", "caf\u00e9", _CYRILLIC_IDIOT),
]
ROOT = Path(__file__).resolve().parents[3]
DEV = ROOT / "tests/detectors/data/toxicity_dev.jsonl"


def _slow(text: str) -> float:
    model, _ = load_model()
    return model.score(featurise(text)[1]).probability


def test_fast_path_matches_trainer_features_on_the_dev_set() -> None:
    """The word-sum fast path gives the probability of the trainer's feature lists."""
    model, _ = load_model()
    for line in DEV.read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        assert model_probability(model, text)[0] == pytest.approx(_slow(text), abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(_SCORE_WORDS),
        max_size=40,
    ).map(" ".join)
    | st.text(max_size=300)
)
def test_fast_path_matches_trainer_features_on_any_text(text: str) -> None:
    """Same on arbitrary text: obfuscation, confusables, repeated words, empty input."""
    model, _ = load_model()
    assert model_probability(model, text)[0] == pytest.approx(_slow(text), abs=1e-9)


def test_long_text_scores_like_its_feature_lists() -> None:
    """A 600-word text (the length the fast path exists for) still scores identically."""
    model, _ = load_model()
    text = " ".join(["The deploy went fine and the dashboards stayed green."] * 60)
    text += " Those refugees are nothing but a plague on us."
    assert model_probability(model, text)[0] == pytest.approx(_slow(text), abs=1e-9)


def test_shipped_weights_match_recorded_sha256() -> None:
    """toxicity.json names the exact weights file it goes with (reproducible retraining
    is checked by comparing this hash)."""
    base = resources.files("defib.detectors") / "models"
    meta = json.loads((base / "toxicity.json").read_text(encoding="utf-8"))
    raw = (base / "toxicity.f32").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == meta["sha256"]
    assert len(raw) == 4 << meta["bits"]
    assert len(raw) <= 20 * 1024 * 1024
    assert set(meta["trained_on"]).isdisjoint(meta["held_out"])


@pytest.mark.parametrize(
    "phrase",
    ["belong in a zoo", "worth nothing", "[identity]", "{identity}", "hatecheck", "toxigen"],
)
def test_written_training_sentences_avoid_evaluation_phrases(phrase: str) -> None:
    """Issue #33 forbids training on HateCheck/ToxiGen or its own quoted examples: the
    synthetic sentences must not reuse them (the docstring may name the sets it avoids)."""
    source = (ROOT / "bench/train/toxicity_synth.py").read_text(encoding="utf-8")
    body = source.split('"""', 2)[2].lower()  # past the module docstring
    assert phrase not in body


_FULL = re.compile(_PATTERN_SOURCE)
_LEXICON_TEXT = st.lists(
    st.sampled_from(_LEXICON_WORDS),
    max_size=30,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_LEXICON_TEXT | st.text(alphabet=st.sampled_from(list("idotkylsh1!*$@ .-'")), max_size=80))
def test_first_letter_matcher_finds_what_the_full_pattern_finds(text: str) -> None:
    """`_matches` (terms tried by their first letter) equals the whole alternation: same spans,
    same term, in the same order."""
    norm = normalise(text)[0]
    fast = [(m.span(), m.lastgroup) for m in _matches(norm)]
    assert fast == [(m.span(), m.lastgroup) for m in _FULL.finditer(norm)]


def _normalise_per_char(text: str) -> tuple[str, list[int]]:
    """The original one-character-at-a-time normaliser, as the reference."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        folded = ch.lower() if ch.isascii() else _fold(ch)
        out.append(folded)
        index.extend([i] * len(folded))
    return "".join(out), index


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_normalise_runs_equal_per_character_folding(text: str) -> None:
    """Copying ASCII runs whole gives the same text and index map as folding each char."""
    assert normalise(text) == _normalise_per_char(text)


def test_fast_contributions_match_trainer_features() -> None:
    """Per-token contributions (which pick the sentence a finding spans) match too."""
    model, _ = load_model()
    text = "The weather was fine today. Immigrants are a plague and should go. See you."
    tokens, groups, _ = featurise(text)
    slow = model.score(groups).contributions
    norm_extra = groups[-1]
    fast = model.contributions([t.text for t in tokens], norm_extra)
    assert fast == pytest.approx(slow, abs=1e-9)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("abcdeisty1@$!|*'0457")), min_size=1, max_size=30)
    | st.text(min_size=1, max_size=12)
)
def test_byte_slice_hashing_equals_feature_names(word: str) -> None:
    """The ASCII shortcut hashes exactly the feature names the trainer's model was fit on."""
    assert hash_token(word, 18) == tuple(bucket(f, 18) for f in token_features(word))
