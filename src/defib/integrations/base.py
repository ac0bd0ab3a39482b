"""What every notification channel implements, and delivery with retries.

A `Notifier` makes one attempt (`send_once`) and says whether a failure is worth another
try; `deliver` owns the retry loop: backoff on 429, 5xx and network errors, none on other
4xx (the request itself is wrong and would fail the same way again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import stamina


@dataclass(frozen=True, slots=True)
class Notice:
    """What a notification says about an incident, the same for every channel."""

    incident_id: str
    type: str
    severity: str
    status: str
    title: str
    systems: Sequence[str]
    link: str
    text: str
    security: bool = False

    @property
    def subject(self) -> str:
        prefix = "[security] " if self.security else ""
        return f"{prefix}{self.incident_id} {self.severity} {self.type}: {self.title}"


class DeliveryError(Exception):
    """One attempt failed; `retryable` says whether trying again can help."""

    def __init__(
        self, message: str, *, retryable: bool, status: int | None = None, retry_after: float = 0
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class DeliveryFailed(Exception):
    """Every attempt failed (or one failed for good)."""

    def __init__(self, error: DeliveryError, attempts: int) -> None:
        super().__init__(f"{error} (after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.error = error
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery that happened."""

    channel: str
    target: str
    attempts: int
    detail: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Notifier(Protocol):
    """One channel to one destination (a Slack webhook, a list of addresses, ...)."""

    @property
    def channel(self) -> str: ...

    @property
    def target(self) -> str:
        """Where it goes, safe to show (no secrets: webhook paths are masked)."""
        ...

    async def send_once(self, notice: Notice, idempotency_key: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: attempts in all, and the exponential backoff (with jitter) between."""

    attempts: int = 4
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 10.0


async def deliver(
    notifier: Notifier, notice: Notice, idempotency_key: str, policy: RetryPolicy
) -> Receipt:
    """Send with retries; the same idempotency key on every attempt (receivers dedup on it)."""
    detail, attempts = await retrying(lambda: notifier.send_once(notice, idempotency_key), policy)
    return Receipt(notifier.channel, notifier.target, attempts, detail)


async def retrying(
    call: Callable[[], Awaitable[Mapping[str, Any]]], policy: RetryPolicy
) -> tuple[Mapping[str, Any], int]:
    """Make `call` until it succeeds or fails for good: (its result, attempts made).

    stamina runs the loop: only a retryable DeliveryError (429, 5xx, network, SMTP 4xx) is
    tried again, after exponential backoff with jitter, or after the peer's Retry-After
    (capped at `max_backoff_seconds`). The engine's own step retries keep their seeded
    backoff (playbooks.spec), which a replay must reproduce; these waits happen inside one
    step and are never replayed.
    """

    def backoff(exc: BaseException) -> bool | float:
        if not isinstance(exc, DeliveryError) or not exc.retryable:
            return False
        if exc.retry_after:
            return min(exc.retry_after, policy.max_backoff_seconds)
        return True

    made = 0
    try:
        async for attempt in stamina.retry_context(
            on=backoff,
            attempts=policy.attempts,
            timeout=None,  # the step's own timeout bounds the whole
            wait_initial=policy.backoff_seconds,
            wait_max=policy.max_backoff_seconds,
            wait_jitter=policy.backoff_seconds,
        ):
            with attempt:
                made = attempt.num
                return await call(), made
    except DeliveryError as exc:
        raise DeliveryFailed(exc, made) from exc
    raise AssertionError("unreachable: stamina yields until success or raises")  # for mypy


def mask_url(url: str) -> str:
    """`https://hooks.slack.com/…`: webhook URLs carry their secret in the path."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"
