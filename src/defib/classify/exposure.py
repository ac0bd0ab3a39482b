"""Pure: does an alert's text report data that got out, as a data_leak answer needs?

A data_leak is SEV1 by policy, so a guess of it pages security. The rules reach data_leak
only through data vocabulary (PII, secrets, system prompts, other tenants' records); the
backstop and the triage path compare whole texts and can land on it from a generic shared
word ("emit", "export" in "not emitting metrics"). Their data_leak answers therefore need
this check: some word for exposed data, or for data of the kind that leaks.
"""

from __future__ import annotations

import re

# Matched on normalised (lowercase) text.
_EXPOSURE = re.compile(
    r"\b(expos\w*|leak\w*|disclos\w*|reveal\w*|exfiltrat\w*|divulg\w*"
    r"|pii|personal (data|information|details)|sensitive (data|information)|confidential"
    r"|secrets?|credentials?|passwords?|api[- ]?keys?|access keys?|private keys?|key material"
    r"|tokens?|ssns?"
    r"|social security|credit cards?|card numbers?|ibans?|e-?mails?|phone numbers?"
    r"|addresses|dates? of birth|medical|patients?|records"
    r"|system (prompt|instructions)|training data"
    r"|(other|another|wrong|different) (users?|customers?|tenants?|accounts?)"
    r"|cross[- ]?(tenant|user|account|customer))\b"
)


def reports_exposure(text: str) -> bool:
    """True when the (normalised) text names exposed data or data of the kind that leaks."""
    return _EXPOSURE.search(text) is not None
