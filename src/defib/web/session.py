"""Console sessions: a signed, expiring cookie naming the API token (by hash) and a CSRF token.

The cookie holds the token's SHA-256, never the token, and every request looks the hash
up again, so revoking the token ends its console sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "defib_session"
LOGIN_COOKIE = "defib_login"
FLASH_COOKIE = "defib_flash"
MAX_AGE_SECONDS = 12 * 3600
LOGIN_MAX_AGE_SECONDS = 3600
FLASH_MAX_AGE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    csrf: str

    @property
    def id(self) -> str:
        """Names the session for sign-out (its CSRF token is random per sign-in; the id is
        its hash, so storing it reveals nothing that could forge a form)."""
        return hashlib.sha256(self.csrf.encode()).hexdigest()

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf)


class SessionCodec:
    """Signs and checks the console's cookies (each kind with its own salt)."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="defib-console-session")
        self._login = URLSafeTimedSerializer(secret, salt="defib-console-login")
        self._flash = URLSafeTimedSerializer(secret, salt="defib-console-flash")

    def new_session(self, token_hash: str) -> tuple[Session, str]:
        session = Session(token_hash=token_hash, csrf=secrets.token_urlsafe(32))
        return session, self._session.dumps({"h": session.token_hash, "c": session.csrf})

    def session(self, cookie: str | None) -> Session | None:
        data = _load(self._session, cookie, MAX_AGE_SECONDS)
        if not isinstance(data, dict):
            return None
        h, c = data.get("h"), data.get("c")
        if not isinstance(h, str) or not isinstance(c, str):
            return None
        return Session(token_hash=h, csrf=c)

    def new_login_nonce(self) -> tuple[str, str]:
        """A CSRF nonce for the sign-in form and the cookie it must match (double submit)."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self._login.dumps(nonce)

    def login_nonce_ok(self, cookie: str | None, presented: str | None) -> bool:
        nonce = _load(self._login, cookie, LOGIN_MAX_AGE_SECONDS)
        return (
            isinstance(nonce, str)
            and presented is not None
            and hmac.compare_digest(nonce, presented)
        )

    def flash(self, message: str, kind: str) -> str:
        return self._flash.dumps([kind, message[:500]])

    def read_flash(self, cookie: str | None) -> tuple[str, str] | None:
        data = _load(self._flash, cookie, FLASH_MAX_AGE_SECONDS)
        if isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) for x in data):
            return data[0], data[1]
        return None


def _load(serializer: URLSafeTimedSerializer, value: str | None, max_age: int) -> object:
    if not value:
        return None
    try:
        return serializer.loads(value, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        return None
