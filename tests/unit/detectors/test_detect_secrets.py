"""Secret detection: provider token shapes, JWT/PEM structure, entropy rule, placeholders."""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from defib.detectors.pii import PiiDetector
from defib.detectors.secrets import SecretDetector, is_placeholder

SECRETS = SecretDetector()
B62 = string.ascii_letters + string.digits


def rand(rng: random.Random, n: int, alphabet: str = B62) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def found(text: str) -> list[tuple[str, str | None]]:
    return [(f.text, f.label) for f in SECRETS.detect(text)]


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


# One generator per provider shape; each returns (text, secret).
def aws_pair(rng: random.Random) -> list[tuple[str, str]]:
    key_id = "AKIA" + rand(rng, 16, string.ascii_uppercase + "234567")
    secret = rand(rng, 40, B62 + "/+")
    text = f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    return [(text, key_id), (text, secret)]


GENERATORS = {
    "github_classic": lambda r: f"export GITHUB_TOKEN=ghp_{rand(r, 36)} && gh auth status",
    "github_oauth": lambda r: f"token gho_{rand(r, 36)} expired",
    "github_app": lambda r: f"installation token ghs_{rand(r, 36)}",
    "github_pat": lambda r: f"use github_pat_{rand(r, 22)}_{rand(r, 59)} for CI",
    "openai": lambda r: f'client = OpenAI(api_key="sk-{rand(r, 48)}")',
    "openai_project": lambda r: f"OPENAI_API_KEY=sk-proj-{rand(r, 64, B62 + '_-')}",
    "slack_bot": lambda r: (
        f"bot xoxb-{rand(r, 12, string.digits)}-{rand(r, 13, string.digits)}-{rand(r, 24)} posted"
    ),
    "slack_user": lambda r: (
        f"SLACK=xoxp-{rand(r, 12, string.digits)}-{rand(r, 12, string.digits)}"
        f"-{rand(r, 13, string.digits)}-{rand(r, 32, '0123456789abcdef')}"
    ),
    "stripe": lambda r: f"stripe.api_key = 'sk_live_{rand(r, 24)}'",
    "google": lambda r: f"maps key AIza{rand(r, 35, B62 + '_-')} in the page",
    "gitlab": lambda r: f"glpat-{rand(r, 20)} leaked",
    "x_api_key": lambda r: f"curl -H 'X-Api-Key: {rand(r, 40)}' https://api.example.com",
    "client_secret_yaml": lambda r: f"oauth:\n  client_secret: {rand(r, 32)}\n  scope: read",
    "json_api_key": lambda r: f'{{"apiKey": "{rand(r, 32, "0123456789abcdef")}", "retries": 3}}',
    "bearer": lambda r: f"Authorization: Bearer {rand(r, 40, B62 + '._-')}",
}


def _secret_of(text: str) -> str:
    for marker in (
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "sk-",
        "xox",
        "sk_live_",
        "AIza",
        "glpat-",
    ):
        i = text.find(marker)
        if i >= 0:
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "_-"):
                j += 1
            return text[i:j]
    # assignment shapes: the value after the separator
    for sep in ("X-Api-Key: ", "client_secret: ", '"apiKey": "', "Bearer "):
        i = text.find(sep)
        if i >= 0:
            start = i + len(sep)
            end = start
            while end < len(text) and (text[end].isalnum() or text[end] in "._-"):
                end += 1
            return text[start:end]
    raise AssertionError(text)


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generated_provider_secret_found_with_exact_span(kind: str, seed: int) -> None:
    """Random tokens of every supported shape are found; the span is the token only."""
    text = GENERATORS[kind](random.Random(f"{kind}-{seed}"))
    secret = _secret_of(text)
    assert secret in [t for t, _ in found(text)]


@pytest.mark.parametrize("seed", range(25))
def test_aws_key_pair_both_found(seed: int) -> None:
    """Access key id and secret key in a credentials file are two findings."""
    pairs = aws_pair(random.Random(seed))
    texts = [t for t, _ in found(pairs[0][0])]
    assert [s for _, s in pairs] == texts


@pytest.mark.parametrize("seed", range(10))
def test_jwt_found_only_when_header_has_alg(seed: int) -> None:
    """A JWT is three base64url parts whose header is JSON with `alg`."""
    rng = random.Random(seed)
    payload = _b64url({"sub": rand(rng, 12), "iat": rng.randint(1, 2**31)})
    sig = rand(rng, 43, B62 + "_-")
    token = f"{_b64url({'alg': 'HS256', 'typ': 'JWT'})}.{payload}.{sig}"
    assert found(f"Bearer-less cookie session={token};") == [(token, "jwt")]
    not_jwt = f"{_b64url({'typ': 'JWT'})}.{payload}.{sig}"
    assert found(f"cookie={not_jwt}") == []


def test_pem_private_key_block_is_one_finding() -> None:
    """The whole BEGIN..END block is the span, including the markers."""
    rng = random.Random(7)
    body = "\n".join(rand(rng, 64, B62 + "+/") for _ in range(6))
    block = f"-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----"
    assert found(f"key:\n{block}\nsave it") == [(block, "private_key")]


def test_truncated_pem_block_extends_over_base64_lines() -> None:
    """Without an END marker the block covers the base64 lines that follow BEGIN."""
    rng = random.Random(8)
    body = "\n".join(rand(rng, 64, B62 + "+/") for _ in range(3))
    block = f"-----BEGIN PRIVATE KEY-----\n{body}"
    assert found(f"{block}\n\n(truncated)") == [(block, "private_key")]


@pytest.mark.parametrize(
    "text",
    [
        "Set OPENAI_API_KEY=sk-... in your shell",
        "SLACK_BOT_TOKEN=xoxb-your-token-here",
        "aws_access_key_id = AKIA****************",
        "AWS docs use AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "export API_KEY=<your-api-key>",
        "api_key: ${API_KEY}",
        "api_key = os.environ['OPENAI_API_KEY']",
        "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
        "commit 631bc315570ac84677590836c0ffde2692f24261 fixed it",
        "request id 0161e65d-5e5e-4dd3-8785-6ae9cb5a0710",
        "session_token: 0161e65d-5e5e-4dd3-8785-6ae9cb5a0710",
        "image nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
        "token_digest=sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
        "secret_name: prod-db-credentials-2024",
        "max_tokens=4096 token_count: 123456789012345678",
        "password: required",
        "api_key: not-set-in-this-environment",
        "the word secret and the token bucket algorithm",
    ],
)
def test_placeholders_and_lookalikes_are_not_secrets(text: str) -> None:
    """Templates, truncations, ids, digests and descriptive names yield nothing."""
    assert found(text) == []


def test_entropy_threshold_is_configurable() -> None:
    """A low-entropy value passes only when the threshold is lowered."""
    text = "api_key=ab12ab12ab12ab12ab12"
    assert found(text) == []
    assert [
        t
        for t, _ in ((f.text, f.label) for f in SecretDetector(entropy_threshold=1.5).detect(text))
    ] == ["ab12ab12ab12ab12ab12"]


def test_url_password_is_secret_and_not_email() -> None:
    """`scheme://user:password@host` reports the password, never an email."""
    text = "DATABASE_URL=postgres://app:Sup3rS3cretPw9@db.internal:5432/app"
    assert [(f.type, f.text) for f in PiiDetector().detect(text)] == [("SECRET", "Sup3rS3cretPw9")]


@pytest.mark.parametrize(
    "value",
    [
        "sk-...",
        "xoxb-your-token-here",
        "AKIA****************",
        "<your-key>",
        "REDACTED",
        "xxxxxxxx",
    ],
)
def test_is_placeholder_recognises_templates(value: str) -> None:
    """The placeholder predicate catches the usual template spellings."""
    assert is_placeholder(value)


def test_is_placeholder_accepts_random_key() -> None:
    """A random key is not a placeholder."""
    assert not is_placeholder("Uyj0p58GpZHFlskuYHe4ZvWyuvcTvEoLKaoo")
