"""Pure correlation: which alerts belong to the same incident, and which are re-deliveries.

A fingerprint is what storage keys "one open incident" on: the same type, on the same
systems, about the same thing. Identities are normalised so that the volatile parts of an
alert's name (numbers, pod hashes, request ids) do not split one incident into many.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from defib.model import IncidentType

_UUID = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b")
# A hex run mixing letters and digits (pod-template hashes, short SHAs, trace ids); pure
# words like "deadbeef" or "cafe" stay words.
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{4,}\b")
# Random tokens that are not hex, like the "2xk8p" of a Kubernetes pod name: letters and
# digits interleaved at least twice. Model names ("llama31", "h100") have one digit run.
_TOKEN = re.compile(r"\b[a-z0-9]{5,}\b")
_DIGIT_RUN = re.compile(r"\d+")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_SPACES = re.compile(r"\s+")


def normalise_identity(text: str) -> str:
    """Lowercase and collapse ids and numbers so repeat firings of one problem match.

    "Latency 812ms on pod-7f9c" and "Latency 930ms on pod-1a2b" both read
    "latency #ms on pod-<id>".
    """
    t = text.strip().lower()
    t = _UUID.sub("<id>", t)
    t = _HEX_ID.sub("<id>", t)
    t = _TOKEN.sub(_random_token, t)
    t = _DIGITS.sub("#", t)
    return _SPACES.sub(" ", t)


def _random_token(m: re.Match[str]) -> str:
    token = m.group(0)
    if len(_DIGIT_RUN.findall(token)) >= 2 and not token.isdigit():
        return "<id>"
    return token


def fingerprint(incident_type: IncidentType, systems: Sequence[str], identity: str) -> str:
    """Stable 32-hex key over type, sorted lowercased systems and the normalised identity."""
    names = sorted({s.strip().lower() for s in systems if s.strip()})
    material = "\x1f".join((incident_type.value, "\x1e".join(names), normalise_identity(identity)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def exact_fingerprint(folded: str | None, identity: str) -> str | None:
    """`folded` narrowed to one exact identity (for sources that opt out of grouping)."""
    if folded is None:
        return None
    material = f"{folded}\x1f{identity.strip()}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
