"""Who signs checkpoints: a small interface, so the private key can live anywhere but the
database (a 0600 file on the worker's host, an environment variable from a secret store, or
a KMS-style service that signs on request and never hands the key out).

A signer only signs and names its public half; the public half is what the database holds
(every replica verifies with it), the private half never goes there.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from defib.integrations.tls import verify_context

ALGORITHM = "ed25519"


class SignerError(Exception):
    """The signing key cannot be used; the message says which and why."""


class Signer(Protocol):
    """Signs checkpoint bodies with Ed25519. A KMS signer implements these two members."""

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes: ...


def key_id(public_key: bytes) -> str:
    """A short name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def encode_public(public_key: bytes) -> str:
    return base64.b64encode(public_key).decode()


def decode_public(text: str) -> bytes:
    """A base64 raw Ed25519 public key (32 bytes); ValueError otherwise."""
    raw = base64.b64decode(text.strip(), validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return raw


class Ed25519Signer:
    """A private key held in this process (from a file or an environment variable)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._public = key.public_key().public_bytes_raw()

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def _decode_key(text: str, where: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise SignerError(f"{where}: not a base64 Ed25519 private key (32 bytes)") from exc


def load_or_create_key(
    path: Path | None, env: str | None, secrets: Mapping[str, str]
) -> Ed25519PrivateKey:
    """The signing key: from the environment variable `env` if set (looked up in `secrets`,
    the environment the composition root read), else the file `path` (created 0600 with a
    new key if missing)."""
    if env:
        value = secrets.get(env)
        if not value:
            raise SignerError(f"evidence_anchor.key_env: {env} is not set")
        return _decode_key(value, f"environment variable {env}")
    if path is None:
        raise SignerError("evidence_anchor: neither key_file nor key_env is set")
    try:
        return _decode_key(path.read_text(encoding="ascii"), str(path))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SignerError(f"{path}: {exc.strerror or exc}") from exc
    key = Ed25519PrivateKey.generate()
    text = base64.b64encode(key.private_bytes_raw()).decode() + "\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _decode_key(path.read_text(encoding="ascii"), str(path))
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return key


class RemoteSigner:
    """A KMS-style signing service: the private key never reaches any defib host.

    `GET {url}/public-key` answers `{"public_key": "<base64>"}`; `POST {url}/sign` with
    `{"message": "<base64>"}` answers `{"signature": "<base64>"}`. A bearer token (from the
    environment) authenticates defib. Each signature is checked against the public key
    before use, so a service that answers wrongly fails the write instead of poisoning the
    log.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout, transport=transport, verify=verify_context())
        self._public: bytes | None = None

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise SignerError(f"the signing service answered {response.status_code}")
        try:
            doc = response.json()
        except ValueError as exc:
            raise SignerError("the signing service answered something that is not JSON") from exc
        if not isinstance(doc, dict):
            raise SignerError("the signing service answered something that is not an object")
        return doc

    @property
    def public_key(self) -> bytes:
        if self._public is None:
            doc = self._json(self._client.get(f"{self.url}/public-key", headers=self._headers))
            try:
                self._public = decode_public(str(doc.get("public_key", "")))
            except ValueError as exc:
                raise SignerError("the signing service's public key is not Ed25519") from exc
        return self._public

    def sign(self, message: bytes) -> bytes:
        body = {"message": base64.b64encode(message).decode()}
        doc = self._json(self._client.post(f"{self.url}/sign", json=body, headers=self._headers))
        try:
            signature = base64.b64decode(str(doc.get("signature", "")), validate=True)
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (ValueError, InvalidSignature) as exc:
            raise SignerError("the signing service's signature does not verify") from exc
        return signature
