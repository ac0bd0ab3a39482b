"""Affected users' addresses, from the directory the operator configures.

`notifications.affected_users` (see `AffectedUsersDirectory`): an inline mapping, a
mapping file, or a lookup webhook. A user id is what a client sent, so it is only ever a
key into that directory, never an address, however much it looks like one.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from defib.actions.base import ActionError
from defib.actions.subjects import Person, person
from defib.config import AffectedUsersDirectory, Settings
from defib.integrations.signing import signature_headers
from defib.integrations.tls import verify_context


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who gets mailed: user id -> address, and the users the directory does not know."""

    addresses: Mapping[str, str] = field(default_factory=dict)
    unknown: Sequence[str] = ()
    refused: Mapping[str, str] = field(default_factory=dict)  # user -> why (domain)

    def domains(self) -> Counter[str]:
        return Counter(a.rsplit("@", 1)[-1].lower() for a in self.addresses.values())

    def summary(self) -> str:
        """For the approval: how many people at which domains, nobody's address."""
        n = len(self.addresses)
        head = f"{n} recipient{'s' if n != 1 else ''}"
        domains = self.domains()
        if domains:
            head += " at " + ", ".join(f"{d} ({c})" for d, c in sorted(domains.items()))
        parts = [head]
        if self.unknown:
            parts.append(f"{len(self.unknown)} user(s) not in the directory (not mailed)")
        if self.refused:
            parts.append(f"{len(self.refused)} address(es) outside allowed_domains (not mailed)")
        return "; ".join(parts)


def _valid(address: object) -> str | None:
    if not isinstance(address, str):
        return None
    address = address.strip()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or "@" in domain or any(c.isspace() for c in address):
        return None
    return address


def _file_mapping(path: Path) -> dict[str, str]:
    """User id -> address from the directory file (an entry's first `email`)."""
    found = {user: person(user, entry).emails for user, entry in _file_entries(path).items()}
    return {user: emails[0] for user, emails in found.items() if emails}


def _file_entries(path: Path) -> dict[str, object]:
    """User id -> an address, or a mapping of `email`, `phone`, `name` (subjects.person)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ActionError(
            f"notifications.affected_users.directory_file {path}: {exc.strerror}"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ActionError(f"{path}: not YAML or JSON") from exc
    if not isinstance(data, dict):
        raise ActionError(f"{path}: must map user ids to email addresses")
    return {str(k): v for k, v in data.items()}


def directory_people(settings: Settings) -> tuple[list[Person], str | None]:
    """Everyone the local directory lists, with their identifiers (blocking: call off the
    loop), and why data subjects cannot be matched (None: they can).

    A `lookup_url` answers for user ids only, so it cannot say whose address or phone
    number appeared in leaked text; its users are matched only through the local entries."""
    cfg = settings.notifications.affected_users
    entries: dict[str, object] = {}
    if cfg.directory_file is not None:
        entries.update(_file_entries(cfg.directory_file))
    entries.update(cfg.directory)
    people = [person(user, entry) for user, entry in entries.items()]
    if people:
        return people, None
    if cfg.lookup_url is not None:
        return [], (
            "notifications.affected_users has only a lookup_url, which answers for user ids: "
            "give a directory or directory_file with people's identifiers to match them"
        )
    return [], "notifications.affected_users lists nobody to match the leaked data against"


def _lookup(
    cfg: AffectedUsersDirectory,
    users: Sequence[str],
    incident: str,
    settings: Settings,
    secrets: Mapping[str, str],
) -> dict[str, str]:
    assert cfg.lookup_url is not None
    body = json.dumps({"user_ids": list(users), "incident": incident}).encode()
    headers = {"content-type": "application/json"}
    if cfg.lookup_secret_env:
        secret = secrets.get(cfg.lookup_secret_env)
        if not secret:
            raise ActionError(
                f"notifications.affected_users.lookup_secret_env: {cfg.lookup_secret_env} "
                "is not set"
            )
        headers.update(signature_headers(body, secret, f"lookup-{uuid.uuid4().hex}"))
    try:
        with httpx.Client(
            timeout=settings.notifications.timeout_seconds,
            trust_env=False,
            verify=verify_context(),
        ) as c:
            resp = c.post(cfg.lookup_url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ActionError(f"the affected-users lookup failed: {exc}") from exc
    if resp.status_code != 200:
        raise ActionError(f"the affected-users lookup answered {resp.status_code}")
    try:
        found = resp.json().get("addresses", {})
    except (ValueError, AttributeError) as exc:
        raise ActionError("the affected-users lookup did not answer JSON") from exc
    if not isinstance(found, dict):
        raise ActionError("the affected-users lookup: `addresses` must be an object")
    wanted = set(users)
    # Only the users asked about: a lookup answering more cannot add recipients.
    return {str(k): str(v) for k, v in found.items() if str(k) in wanted}


def resolve(
    settings: Settings, users: Sequence[str], incident: str, secrets: Mapping[str, str]
) -> Recipients:
    """Addresses for `users` from the configured directory (blocking: call off the loop).

    `secrets`: where `lookup_secret_env` is looked up (the action environment's)."""
    cfg = settings.notifications.affected_users
    known: dict[str, str] = dict(cfg.directory)
    if cfg.directory_file is not None:
        known = {**_file_mapping(cfg.directory_file), **known}
    missing = [u for u in users if u not in known]
    if missing and cfg.lookup_url is not None:
        known.update(_lookup(cfg, missing, incident, settings, secrets))
    addresses: dict[str, str] = {}
    refused: dict[str, str] = {}
    unknown: list[str] = []
    allowed = set(cfg.allowed_domains)
    for user in users:
        address = _valid(known.get(user))
        if address is None:
            unknown.append(user)
        elif allowed and address.rsplit("@", 1)[-1].lower() not in allowed:
            refused[user] = "outside notifications.affected_users.allowed_domains"
        else:
            addresses[user] = address
    return Recipients(addresses, unknown, refused)
