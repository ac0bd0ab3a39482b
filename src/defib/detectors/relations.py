"""Pure: sentence-level checks for grounding that need no number: polarity and roles.

- Polarity: a response sentence that negates what the context sentence about the same
  things affirms (or the reverse) contradicts it: "X was not a CEO" vs "X was the CEO of Y".
- Roles: "A founded B" when the context says B was founded by C (C is not A), or says
  "B founded A" (a role reversal). Verbs are a short list of the relations RAG answers most
  often state: who made, led, bought or founded what.
Each check returns the response span to report and a label; nothing here reads I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_STOP_WORDS = """the a an is are was were be been of to in on for at by with from and or that
this these those it its as than then has have had do does did will would can could should not no
never his her their our your they them he she we you who which what also"""
_STOP = frozenset(_STOP_WORDS.split())
MIN_SHARED = 2  # content words a response sentence shares with the context sentence it negates
_NEGATION = re.compile(r"\b(?:not|never|no|none|neither|nor|cannot|without)\b|n't\b", re.I)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
# verb stem -> the forms it appears in; agents are found as "<Agent> <verb>" (active) or
# "<verb> by <Agent>" (passive).
_VERBS = {
    "found": ("founded", "co-founded", "cofounded"),
    "direct": ("directed",),
    "write": ("wrote", "written"),
    "create": ("created",),
    "acquire": ("acquired", "bought", "purchased"),
    "invent": ("invented",),
    "design": ("designed",),
    "produce": ("produced",),
    "compose": ("composed",),
    "develop": ("developed",),
    "lead": ("led", "leads", "heads", "headed"),
    "own": ("owned", "owns"),
    "publish": ("published",),
}
_FORM_TO_VERB = {form: verb for verb, forms in _VERBS.items() for form in forms}
_FORMS = "|".join(sorted(_FORM_TO_VERB, key=len, reverse=True))
_NAME = r"[A-Z][\w&'.\-]*(?:\s+(?:of|the|de|von|van|&)?\s*[A-Z][\w&'.\-]*)*"
_ACTIVE = re.compile(rf"(?P<agent>{_NAME})\s+(?:(?:has|had|was)\s+)?(?P<verb>{_FORMS})\s+"
                     rf"(?:the\s+)?(?P<object>{_NAME})")  # fmt: skip
_PASSIVE = re.compile(
    rf"(?P<object>{_NAME})\s*(?:,[^,]{{0,80}},\s*)?(?:is|was|were|has been|had been)?"
    rf"\s*(?:\w+\s+)?(?P<verb>{_FORMS})\s+(?:\w+\s+){{0,6}}?by\s+(?:the\s+)?"
    rf"(?P<agent>{_NAME})"
)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A response span the context contradicts, and why (`negation` or `role`)."""

    start: int
    end: int
    label: str


def _words(sentence: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z][a-z\-]{2,}", sentence.lower()) if w not in _STOP)


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the sentences of `text` (trimmed, non-empty)."""
    for m in _SENTENCE.finditer(text):
        a, b = m.start(), m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            yield a, b


def polarity_conflicts(response: str, context: str) -> Iterator[Conflict]:
    """Response sentences whose negation differs from the context sentence most like them.

    "Most like" = sharing at least MIN_SHARED content words and a third of the response
    sentence's, so a negation about something the context does not discuss is not
    reported as contradicting it.
    """
    ctx = [
        (_words(context[a:b]), bool(_NEGATION.search(context[a:b]))) for a, b in sentences(context)
    ]
    for a, b in sentences(response):
        words = _words(response[a:b])
        if len(words) < 3 or any(q in response[a:b] for q in '"“”'):
            continue  # quoted speech is checked verbatim by the quote claim instead
        best, best_overlap = None, 0
        for ctx_words, ctx_negated in ctx:
            overlap = len(words & ctx_words)
            if overlap > best_overlap:
                best, best_overlap = ctx_negated, overlap
        if best is None or best_overlap < max(MIN_SHARED, (len(words) + 2) // 3):
            continue
        if bool(_NEGATION.search(response[a:b])) != best:
            yield Conflict(a, b, "negation")


def _relations(text: str) -> Iterator[tuple[str, str, str, int, int]]:
    """(verb, agent, object, start, end) for each "A founded B" / "B was founded by A"."""
    for pattern in (_ACTIVE, _PASSIVE):
        for m in pattern.finditer(text):
            verb = _FORM_TO_VERB[m.group("verb").lower()]
            agent, obj = m.group("agent").lower().rstrip("."), m.group("object").lower().rstrip(".")
            # A name may end in "." ("Inc."), but a sentence's full stop is not the relation's.
            end = m.end() - 1 if m.group().endswith(".") else m.end()
            yield verb, agent, obj, m.start(), end


def _same(a: str, b: str) -> bool:
    """Two names for one entity: one's words contain the other's last word (`Nolan`,
    `Christopher Nolan`)."""
    wa, wb = a.split(), b.split()
    return bool(wa and wb) and (wa[-1] in wb or wb[-1] in wa)


def role_conflicts(response: str, context: str) -> Iterator[Conflict]:
    """Relations the context states with another agent, or with the roles swapped."""
    stated = list(_relations(context))
    if not stated:
        return
    for verb, agent, obj, start, end in _relations(response):
        same_object = [(a, o) for v, a, o, _, _ in stated if v == verb and _same(o, obj)]
        if same_object and not any(_same(a, agent) for a, _ in same_object):
            yield Conflict(start, end, "role")
            continue
        swapped = [1 for v, a, o, _, _ in stated if v == verb and _same(a, obj) and _same(o, agent)]
        if swapped:
            yield Conflict(start, end, "role_reversal")


_LOCATED = re.compile(
    rf"(?P<subject>{_NAME})\s+(?:is|was|are|were)\s+(?:(?:located|based|headquartered|"
    rf"situated|born|founded|held)\s+)?in\s+(?:the\s+)?(?P<place>{_NAME})"
)
_IN_PLACE = re.compile(rf"\bin\s+(?:the\s+)?(?P<place>{_NAME})")


def place_conflicts(response: str, context: str) -> Iterator[Conflict]:
    """ "X is (located) in P" when the context's sentences about X put it in another place.

    A broader place is entailed, not contradicted: "in California" holds for a context
    saying "in Stanford, California", because the place's words are in X's sentence.
    """
    ctx_sentences = [context[a:b] for a, b in sentences(context)]
    for m in _LOCATED.finditer(response):
        subject = m.group("subject").lower().split()
        place = m.group("place").rstrip(".")
        about = [s for s in ctx_sentences if subject[-1] in s.lower()]
        if not about:
            continue
        place_words = [w for w in place.lower().split() if w not in _STOP]
        if any(all(w in s.lower() for w in place_words) for s in about):
            continue
        if any(_IN_PLACE.search(s) for s in about):
            yield Conflict(m.start("place"), m.start("place") + len(place), "place")


_MONTH_WORDS = (
    "january february march april may june july august september october november december"
)
_MONTHS = frozenset(_MONTH_WORDS.split())
NOVEL_SHARE = 0.4  # share of a sentence's content words the context never uses
_STEM = 5  # compare words by their first letters: `returned` ~ `returns`, `founder` ~ `founded`


def novel_sentences(response: str, context: str) -> Iterator[Conflict]:
    """Response sentences (3+ content words) of which at least NOVEL_SHARE of the content
    words the context never uses, even loosely (by a 5-letter stem): an answer built from
    outside the context. Picked on the HaluEval tune half; 0.4 keeps paraphrases of the
    hand-written dev set clean."""
    ctx_stems = {w[:_STEM] for w in _words(context)}
    for a, b in sentences(response):
        # Dates are checked as dates, in whatever spelling; their month word is no evidence.
        words = _words(response[a:b]) - _MONTHS
        if len(words) < 3:
            continue
        novel = [w for w in words if w[:_STEM] not in ctx_stems]
        if len(novel) / len(words) >= NOVEL_SHARE:
            yield Conflict(a, b, "novel_content")
