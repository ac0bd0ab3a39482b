"""Which system a request is for and where it goes (pure).

A system is named by the route (`/systems/{name}/v1/...`) or, on plain `/v1/...`, by the
client's API key: the SHA-256 of the bearer token is looked up in every system's
`gateway.api_key_hashes`. A system that lists key hashes accepts only those keys; one that
lists none is refused to everyone unless `gateway.allow_anonymous` is set (issue 11: an
anonymous caller could otherwise raise incidents that switch the system off).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from defib.config import ModelVersionConfig, SystemConfig
from defib.systems.state import SystemState


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer in OpenAI's error shape."""

    status: int
    message: str
    type: str
    code: str


@dataclass(frozen=True)
class Directory:
    """Configured systems by name and by client key hash (built once at start)."""

    by_name: Mapping[str, SystemConfig]
    by_key: Mapping[str, SystemConfig]
    allow_anonymous: bool = False

    @classmethod
    def build(cls, systems: Sequence[SystemConfig], *, allow_anonymous: bool = False) -> Directory:
        by_key: dict[str, SystemConfig] = {}
        for s in systems:
            for h in s.gateway.api_key_hashes:
                by_key[h.strip().lower()] = s
        return cls({s.name: s for s in systems}, by_key, allow_anonymous)

    def _open(self, system: SystemConfig) -> bool:
        """Served without a client key: only when the operator said so."""
        return self.allow_anonymous and not system.gateway.api_key_hashes

    def select(
        self, name: str | None, key: str | None, *, probe: bool = False
    ) -> SystemConfig | Refusal:
        """The system for a request naming `name` (route) and carrying `key` (bearer).

        A probe was authenticated by its defib token already, so its key is not checked.
        """
        hashed = key_hash(key) if key else None
        if name is not None:
            system = self.by_name.get(name)
            if system is None:
                return Refusal(
                    404,
                    f"The system {name!r} does not exist.",
                    "invalid_request_error",
                    "system_not_found",
                )
            if probe or self._open(system):
                return system
            if hashed is not None and self.by_key.get(hashed) is system:
                return system
            return _bad_key(key)
        if hashed is not None and hashed in self.by_key:
            return self.by_key[hashed]
        # One system and no keys configured: the plain routes serve it (a local setup).
        if len(self.by_name) == 1:
            only = next(iter(self.by_name.values()))
            if probe or self._open(only):
                return only
        return _bad_key(key)


def _bad_key(key: str | None) -> Refusal:
    if key is None:
        return Refusal(
            401,
            "You didn't provide an API key that selects a system "
            "(Authorization: Bearer <key>), or use /systems/{name}/v1.",
            "invalid_request_error",
            "invalid_api_key",
        )
    return Refusal(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")


@dataclass(frozen=True, slots=True)
class Upstream:
    version: ModelVersionConfig
    fallback: bool = False  # routed to gateway.fallback_version by the kill switch


@dataclass(frozen=True, slots=True)
class FallbackMessage:
    text: str


Route = Upstream | FallbackMessage | Refusal


def route(system: SystemConfig, state: SystemState | None, *, probe: bool) -> Route:
    """Where a request goes given the system's current state; probes skip the kill switch."""
    gw = system.gateway
    if state is not None and state.disabled and not probe:
        if gw.fallback_version is not None:
            version = system.version(gw.fallback_version)
            if version is not None and version.upstream is not None:
                return Upstream(version, fallback=True)
        if gw.fallback_message is not None:
            return FallbackMessage(gw.fallback_message)
        reason = f" ({state.disabled_reason})" if state.disabled_reason else ""
        return Refusal(
            503,
            f"{system.name} is temporarily disabled by defib{reason}. Try again later.",
            "service_unavailable",
            "system_disabled",
        )
    name = state.active_version if state is not None else None
    name = name or system.initial_version
    version = system.version(name) if name is not None else None
    if version is None or version.upstream is None:
        return Refusal(
            503,
            f"{system.name} has no upstream for version {name!r}.",
            "service_unavailable",
            "no_upstream",
        )
    return Upstream(version)
