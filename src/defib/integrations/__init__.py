"""Adapters to the outside world (Slack, webhooks, SMTP, PagerDuty) behind `base.py`'s protocols.

Each HTTP adapter takes an injected `httpx.AsyncClient` (and so any transport); the SMTP
adapter speaks stdlib `smtplib` in a thread. None of them knows about incidents' storage.
"""

from defib.integrations.base import (
    DeliveryError,
    DeliveryFailed,
    Notice,
    Notifier,
    Receipt,
    RetryPolicy,
    deliver,
)

__all__ = [
    "DeliveryError",
    "DeliveryFailed",
    "Notice",
    "Notifier",
    "Receipt",
    "RetryPolicy",
    "deliver",
]
