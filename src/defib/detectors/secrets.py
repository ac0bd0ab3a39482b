"""Secret detection: provider tokens with a known shape, JWTs, PEM private keys, and
high-entropy values assigned to credential-like names.

Every rule has a cheap substring gate so texts without a hint of a secret cost a few `in`
checks. Placeholders, documentation examples, UUIDs and digests are suppressed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from defib.detectors.base import Finding, resolve_overlaps, shannon_entropy

NAME = "secrets"
VERSION = "1.0.0"

# Documentation and template values: a real key essentially never contains these words.
_PLACEHOLDER_WORDS = re.compile(
    r"your|example|placeholder|redacted|dummy|changeme|replace|insert|here|sample|fake|"
    r"xxxx|\.\.\.|\u2026|\*\*\*|<|>|\{\{|\$\{|%s|0123456789|abcdefgh",
    re.IGNORECASE,
)
_REPEATED_RUN = re.compile(r"(.)\1{5,}")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_DIGEST_PREFIX = re.compile(r"^(?:sha(?:1|224|256|384|512)|md5|blake2b?)[:=-]", re.IGNORECASE)
# identifiers made of plain words and numbers (`prod-db-credentials-2024`) are names, not keys
_WORDY = re.compile(r"^[a-z]+(?:[-_./:][a-z]+|[-_./:]\d+)+$|^[a-z]+$|^[A-Z]+(?:_[A-Z]+)*$")


def is_placeholder(value: str) -> bool:
    """True for template values such as `sk-...`, `xoxb-your-token-here` or `AKIA****`."""
    return bool(_PLACEHOLDER_WORDS.search(value) or _REPEATED_RUN.search(value))


def _char_classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    pattern: re.Pattern[str]
    gates: tuple[str, ...]  # at least one must occur in the text (case-sensitive) to run
    score: float
    group: str | int = 0
    check: Callable[[str, str, int], bool] | None = None  # (value, text, start) -> keep?


def _random_enough(min_entropy: float) -> Callable[[str, str, int], bool]:
    def check(value: str, _text: str, _start: int) -> bool:
        body = value.split("-", 2)[-1] if value.startswith(("sk-", "xox")) else value
        return (
            not is_placeholder(value)
            and _char_classes(body) >= 2
            and shannon_entropy(body) >= min_entropy
        )

    return check


def _slack_check(value: str, _text: str, _start: int) -> bool:
    return not is_placeholder(value) and sum(c.isdigit() for c in value) >= 6


def _jwt_check(value: str, _text: str, _start: int) -> bool:
    header = value.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


_AWS_SECRET_CONTEXT = re.compile(
    r"aws|secret[_ \-]?access|secret[_ \-]?key|SecretAccessKey", re.IGNORECASE
)


def _aws_secret_check(value: str, text: str, start: int) -> bool:
    window = text[max(0, start - 120) : start]
    return (
        bool(_AWS_SECRET_CONTEXT.search(window))
        and not is_placeholder(value)
        and _char_classes(value) == 3
        and shannon_entropy(value) >= 4.0
    )


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "aws_access_key",
        re.compile(
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|AKPA|ANPA|ANVA|AROA|APKA)"
            r"[A-Z2-7]{16}(?![A-Za-z0-9])"
        ),
        (
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "AGPA",
            "AIDA",
            "AIPA",
            "AKPA",
            "ANPA",
            "ANVA",
            "AROA",
            "APKA",
        ),
        0.95,
        check=lambda v, _t, _s: not is_placeholder(v),
    ),
    _Rule(
        "aws_secret_key",
        re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        ("aws", "AWS", "ecret"),
        0.85,
        check=_aws_secret_check,
    ),
    _Rule(
        "github_token",
        re.compile(
            r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{40,})"
            r"(?![A-Za-z0-9_])"
        ),
        ("gh", "github_pat_"),
        0.97,
        check=lambda v, _t, _s: not is_placeholder(v),
    ),
    _Rule(
        "gitlab_token",
        re.compile(r"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_\-]{20,}(?![A-Za-z0-9_\-])"),
        ("glpat-",),
        0.95,
        check=_random_enough(3.0),
    ),
    _Rule(
        "openai_key",
        re.compile(
            r"(?<![A-Za-z0-9_\-])sk-(?:proj-|svcacct-|admin-|ant-(?:[a-z]+\d\d-)?)?"
            r"[A-Za-z0-9_\-]{20,}(?![A-Za-z0-9_\-])"
        ),
        ("sk-",),
        0.9,
        check=_random_enough(3.5),
    ),
    _Rule(
        "stripe_key",
        re.compile(r"(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}(?![A-Za-z0-9_])"),
        ("k_live_", "k_test_"),
        0.95,
        check=_random_enough(3.0),
    ),
    _Rule(
        "slack_token",
        re.compile(r"(?<![A-Za-z0-9_\-])xox[abposre]-[A-Za-z0-9\-]{10,}(?![A-Za-z0-9_\-])"),
        ("xox",),
        0.95,
        check=_slack_check,
    ),
    _Rule(
        "slack_webhook",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
        ("hooks.slack.com",),
        0.95,
        check=lambda v, _t, _s: not is_placeholder(v),
    ),
    _Rule(
        "google_api_key",
        re.compile(r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"),
        ("AIza",),
        0.95,
        check=lambda v, _t, _s: not is_placeholder(v),
    ),
    _Rule(
        "npm_token",
        re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])"),
        ("npm_",),
        0.9,
        check=_random_enough(3.5),
    ),
    _Rule(
        "huggingface_token",
        re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])"),
        ("hf_",),
        0.9,
        check=_random_enough(3.5),
    ),
    _Rule(
        "sendgrid_key",
        re.compile(
            r"(?<![A-Za-z0-9_])SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])"
        ),
        ("SG.",),
        0.95,
    ),
    _Rule(
        "jwt",
        re.compile(
            r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*"
            r"(?![A-Za-z0-9_\-])"
        ),
        ("eyJ",),
        0.9,
        check=_jwt_check,
    ),
)

_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_PEM_TEMPLATE = re.compile(r"\.\.\.|\u2026|<|>|\{\{|[A-Za-z]+ [A-Za-z]+ [A-Za-z]+")
_PEM_BODY_LINE = re.compile(r"[ \t]*(?:[A-Za-z0-9+/=]+|[A-Za-z\-]+: .*)?[ \t]*")

# Values assigned to credential-like names: `api_key=...`, `"client_secret": "..."`,
# `X-Api-Key: ...`. The span is the value only.
_ASSIGN = re.compile(
    r"""(?P<name>(?:api[_\-.]?key|apikey|api[_\-]?secret|secret|token|
         passw(?:or)?d|pwd|auth[_\-]?key|credentials?|private[_\-]?key|access[_\-]?key|
         signing[_\-]?key|session[_\-]?key)[A-Za-z0-9_.\-]*)
        ["'`]?[ \t]*(?::=|=>|=|:)[ \t]*["'`]?
        (?P<value>[^\s"'`,;()<>\[\]{}]+)""",
    re.IGNORECASE | re.VERBOSE,
)
_ASSIGN_GATE = re.compile(
    r"key|secret|token|passw|pwd|credential|bearer|authorization", re.IGNORECASE
)
# The name describes the secret rather than holding it (`token_count`, `secret_name`, ...).
_NOT_A_SECRET_NAME = re.compile(
    r"(?:tokens|tokeni[sz]\w*|_(?:name|id|file|path|url|uri|type|count|len|length|limit|ttl|"
    r"expiry|expires|expiration|header|env|var|field|version|endpoint|dir|prefix|format|usage|"
    r"rotation|ref|policy|arn|hint|label))$",
    re.IGNORECASE,
)
_PASSWORD_NAME = re.compile(r"passw|pwd", re.IGNORECASE)
_AUTH_HEADER = re.compile(
    r"(?:authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:bearer|token|basic|apikey)|\bbearer)"
    r"[ \t]+(?P<value>[A-Za-z0-9._~+/=\-]{16,})",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(
    r"\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:(?P<value>[^\s:/@]{8,})@[A-Za-z0-9]", re.IGNORECASE
)
_TRAILING_PUNCT = ".:!?"


def _value_is_secret(value: str, min_entropy: float, min_length: int) -> bool:
    return (
        len(value) >= min_length
        and not is_placeholder(value)
        and not _UUID.match(value)
        and not _DIGEST_PREFIX.match(value)
        and "://" not in value
        and not _WORDY.match(value)
        and _char_classes(value) >= 2
        and shannon_entropy(value) >= min_entropy
    )


class SecretDetector:
    """Credentials and keys: provider formats, JWTs, PEM private keys, high-entropy assignments."""

    name = NAME
    version = VERSION

    def __init__(
        self, *, min_score: float = 0.5, entropy_threshold: float = 3.0, min_length: int = 16
    ) -> None:
        self.min_score = min_score
        self.entropy_threshold = entropy_threshold
        self.min_length = min_length

    def detect(self, text: str, *, context: str | None = None) -> list[Finding]:
        """Find secrets in `text`; `context` is ignored."""
        found = [f for f in self._candidates(text) if f.score >= self.min_score]
        return resolve_overlaps(found, {"SECRET": 1})

    def _finding(self, text: str, start: int, end: int, score: float, label: str) -> Finding:
        return Finding("SECRET", start, end, score, NAME, VERSION, text[start:end], label)

    def _candidates(self, text: str) -> Iterator[Finding]:
        for rule in _RULES:
            if not any(g in text for g in rule.gates):
                continue
            for m in rule.pattern.finditer(text):
                value = m.group(rule.group)
                if rule.check is None or rule.check(value, text, m.start(rule.group)):
                    yield self._finding(
                        text, m.start(rule.group), m.end(rule.group), rule.score, rule.label
                    )
        if "PRIVATE KEY" in text:
            yield from self._pem_blocks(text)
        if _ASSIGN_GATE.search(text):
            yield from self._assignments(text)
        if "://" in text and "@" in text:
            for m in _URL_CREDENTIALS.finditer(text):
                value = m.group("value")
                if (
                    not is_placeholder(value)
                    and _char_classes(value) >= 2
                    and not _WORDY.match(value)
                ):
                    yield self._finding(text, m.start("value"), m.end("value"), 0.7, "url_password")

    def _pem_blocks(self, text: str) -> Iterator[Finding]:
        for m in _PEM_BEGIN.finditer(text):
            end_marker = f"-----END {m.group(1)}-----"
            end = text.find(end_marker, m.end())
            if end >= 0:
                end += len(end_marker)
            else:
                # Truncated block: extend over the base64 body lines that follow.
                end = m.end()
                pos = text.find("\n", m.end())
                while pos >= 0:
                    nxt = text.find("\n", pos + 1)
                    line_end = len(text) if nxt < 0 else nxt
                    line = text[pos + 1 : line_end]
                    if not line.strip() or not _PEM_BODY_LINE.fullmatch(line):
                        break
                    end = line_end
                    pos = nxt
            inner = text[m.end() : end].replace(end_marker, "")
            body = re.sub(r"[^A-Za-z0-9+/]", "", inner)
            # Real bodies are base64 lines; `...` or prose between the markers is a template.
            if len(body) >= 64 and not _PEM_TEMPLATE.search(inner):
                yield self._finding(text, m.start(), end, 0.99, "private_key")

    def _assignments(self, text: str) -> Iterator[Finding]:
        for m in _ASSIGN.finditer(text):
            if _NOT_A_SECRET_NAME.search(m.group("name")):
                continue
            start, end = m.start("value"), m.end("value")
            while end > start and text[end - 1] in _TRAILING_PUNCT:
                end -= 1
            value = text[start:end]
            if _PASSWORD_NAME.search(m.group("name")):
                # Passwords are short; ask for more character classes instead of length.
                if (
                    len(value) >= 8
                    and _char_classes(value) + (not value.isalnum()) >= 3
                    and _value_is_secret(value, self.entropy_threshold, 8)
                ):
                    yield self._finding(text, start, end, 0.7, "password")
            elif _value_is_secret(value, self.entropy_threshold, self.min_length):
                yield self._finding(text, start, end, 0.75, "generic_api_key")
        for m in _AUTH_HEADER.finditer(text):
            value = m.group("value")
            if _value_is_secret(value, self.entropy_threshold, self.min_length):
                yield self._finding(text, m.start("value"), m.end("value"), 0.8, "bearer_token")
