"""Pure: does an alert's text report data that got out, as a data_leak answer needs?

A data_leak is SEV1 by policy, so a guess of it pages security. Two readings put a
data_leak answer in doubt, whichever stage reached it (rules, backstop or triage):

1. The text names no exposed data at all: the rules reach data_leak through data
   vocabulary, but the backstop and the triage path compare whole texts and can land on it
   from a generic shared word ("emit", "export" in "not emitting metrics"), and a rule can
   fire on the machinery's name ("tenant isolation controller").
2. The text says sensitive data was caught on the *input* side (a prompt, an input, a
   request, a user message) and contained there (blocked, masked, rejected, replaced...)
   before the model saw it, and nothing says it reached an output, a response, a log or a
   third party, or that the containment failed. That is an attempt (or a user typing their
   own data), not an exposure: docs/intake.md, "Blocked is not exposed".
"""

from __future__ import annotations

import re

# Matched on normalised (lowercase) text.
_EXPOSURE = re.compile(
    r"\b(expos\w*|leak\w*|disclos\w*|reveal\w*|exfiltrat\w*|divulg\w*|breach\w*"
    r"|pii|personal(ly)? (data|information|details|identifiable)|sensitive (data|information)"
    r"|confidential|privacy|gdpr|hipaa|pci|dlp|data loss|unredacted|redaction (fail|miss|bypass)"
    r"|secrets?|credentials?|passwords?|(api|access|secret|private|ssh|signing)[- ]?keys?"
    r"|key material|akia\w*|tokens?|ssns?"
    r"|social security|credit cards?|card numbers?|ibans?|e-?mails?|phone numbers?"
    r"|addresses|(home|postal|street|mailing) address|dates? of birth|medical|patients?|records"
    r"|system (prompt|instructions)|training data|memori[sz]\w*|regurgitat\w*|verbatim|canary"
    r"|stranger'?s|outside the (owning|requesting|user'?s)"
    # Data that reached the wrong party is the exposure itself (see leak.cross-boundary).
    r"|(other|another|wrong|different|foreign) (users?|customers?|tenants?|accounts?|patients?"
    r"|orgs?|organi[sz]ations?|workspaces?|sessions?|teams?|projects?)"
    r"|across (customers|tenants|users|accounts|orgs|organi[sz]ations|workspaces)"
    r"|(owned by|belonging to|belongs to) (another|a different|other|(the )?(customer|tenant"
    r"|workspace|org|organi[sz]ation|user|account)s?)"
    r"|cross[- ]?(tenant|user|account|customer|org|organi[sz]ation|session|workspace)"
    # The other languages the rules read (see leak.other-languages).
    r"|datenleck\w*|datenschutz\w*|personenbezogen\w*|fuite|données|fuga|vazamento"
    r"|datos|dados|dati)\b"
)

# Data of the kind a guardrail, scanner or gateway catches in what users send.
_SENSITIVE = (
    r"(?:sensitive|personal|confidential|private|pii|personally identifiable"
    r"|secrets?|credentials?|passwords?|api[- ]?keys?|access keys?|private keys?"
    r"|ssns?|social security( numbers?)?|credit cards?( numbers?)?|card numbers?|ibans?"
    r"|e-?mails?( address(?:es)?)?|phone( numbers?)?|phones|dates? of birth)"
)
# What the tool did with it: kept it from going further.
_CONTAINED = (
    r"(?:block\w*|mask\w*|redact\w*|intervened|anonymi[sz]\w*|pseudonymi[sz]\w*"
    r"|de-?identif\w*|filter\w*|prevent\w*|stopped|reject\w*|den(?:y|ied|ies)|refus\w*"
    r"|replac\w*|saniti[sz]\w*|scrub\w*|dropped|remov\w*|strip\w*|hash(?:ed|es|ing)"
    r"|tokeni[sz]\w*|obfuscat\w*|hidden|substitut\w*|quarantin\w*"
    # "ensuring prompts are free of sensitive information": what the tool guarantees.
    r"|(?:free|freed|cleared|cleaned|purged) of)"
)
# Both in one sentence, in either order.
_CAUGHT = re.compile(
    rf"\b{_SENSITIVE}\b[^.;!?\n]{{0,80}}?\b{_CONTAINED}"
    rf"|\b{_CONTAINED}[^.;!?\n]{{0,80}}?\b{_SENSITIVE}\b"
)
# Where: in what users sent, on its way to the model.
_MODEL = r"(?:the |an? )?(?:language model|models?|llms?|lm)\b"
_INPUT_SIDE = re.compile(
    r"\b(prompts?|inputs?|requests?|user messages?|incoming messages?|quer(?:y|ies)"
    r"|incoming|inbound|request body|request bodies|before (?:\w+ ){0,3}(?:model|llm)\b"
    r"|before (?:it |they |them )?(?:was |were |is |are |being |getting )?"
    r"(?:sent|passed|forwarded|processed|seen|handed|reach\w*|invok\w*|called))"
)
# It got out after all, the model produced it, or the containment failed.
_GOT_OUT = re.compile(
    r"\b(expos(?:ed|ure|ing)|leak(?:ed|s|ing|age)?|disclos\w*|exfiltrat\w*)\b"
    r"|\b(outputs?|responses?|completions?|answers?|generated|generations?|replies|replied"
    r"|bot messages?)\b"
    # "sent to the model" is the normal way of cleaned input, not a way out.
    rf"|\b(?:sent|returned|shown|delivered|served|posted|visible|displayed|uploaded"
    rf"|transmitted|forwarded) to\b(?! {_MODEL})|\breach(?:ed|es|ing)\b(?! {_MODEL})"
    r"|\b(?:written|wrote|stored|persisted|recorded|saved|kept) (?:to|in|into)\b"
    r"|\b(?:in|to|into) (?:the )?(?:\w+ )?logs?\b|\blogged\b"
    r"|\bthird[- ]part(?:y|ies)\b|\bexternal (?:urls?|endpoints?|services?|servers?|apis?|part\w*)"
    r"|\b(bypass\w*|evad\w*|got through|slipped|slips|unredacted|unmasked|in (?:the )?clear)\b"
    r"|\bnot (?:been )?(?:blocked|masked|redacted|filtered|removed|anonymi[sz]ed|scrubbed)\b"
    r"|\b(?:block|mask|redact|filter|anonymi[sz]|remov|scrub|saniti[sz])\w*\b[^.;\n]{0,25}"
    r"\b(?:fail\w*|miss\w*|did not|didn.t|incomplete|partial\w*)\b"
    r"|\b(?:fail\w*|unable|did not|didn.t) (?:to )?(?:block|mask|redact|filter|anonymi[sz]e"
    r"|remove|scrub|saniti[sz]e)\b"
    r"|\b(?:other|another|wrong|different) (?:users?|customers?|tenants?|accounts?)\b"
    r"|\bcross[- ]?(?:tenant|user|account|customer)\b"
)


def reports_exposure(text: str) -> bool:
    """True when the (normalised) text names exposed data or data of the kind that leaks."""
    return _EXPOSURE.search(text) is not None


def contained_before_model(text: str) -> bool:
    """True when the (normalised) text says sensitive data was caught in what users sent and
    contained before the model, and nothing says it got out (reading 2 above)."""
    return (
        _CAUGHT.search(text) is not None
        and _INPUT_SIDE.search(text) is not None
        and _GOT_OUT.search(text) is None
    )


NO_EXPOSED_DATA = "no exposed data named"
CONTAINED_ON_INPUT = (
    "sensitive data caught on the input side and contained before the model, nothing says "
    "it reached an output, a log or a third party"
)


def leak_doubt(text: str) -> str | None:
    """Why a data_leak answer for this (normalised) text is in doubt, or None."""
    if not reports_exposure(text):
        return NO_EXPOSED_DATA
    if contained_before_model(text):
        return CONTAINED_ON_INPUT
    return None
