"""The intent of a send is recorded before it, the confirmation after: a send that a crash
may have repeated is known as one.

Slack and mail servers ignore idempotency keys, so a crash between a send and its
confirmation (the `..._sent` timeline event) makes the re-executed step send again. Each
attempt therefore commits `run_step_notification_sending` (with the idempotency key the
peer will see) before its send. A re-execution of the same attempt that finds its own
intent, and no failure recorded for it, cannot know whether the peer got the message: it
sends again (notifications are at least once) and marks the confirmation `in_doubt`, so
the timeline says which messages may have arrived twice. Mail also carries a `Message-ID`
derived from the key, which mail clients and many servers fold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from defib.actions.base import ActionContext
from defib.store import evidence as store
from defib.store.database import Database

SENDING = "run_step_notification_sending"


def _found(db: Database, keys: tuple[str, str]) -> tuple[bool, bool]:
    with db.read() as conn:
        intent, failed = (store.timeline_key_exists(conn, k) for k in keys)
        return intent, failed


async def announce(ctx: ActionContext, db: Database, suffix: str, data: Mapping[str, Any]) -> bool:
    """Record the intent to send under `suffix` in this attempt (committed on return); True
    if an earlier execution of this attempt announced it and recorded no failure, i.e. the
    send about to happen may repeat one the peer already has.

    The delivery's failure must be recorded under `<suffix>:failed:<attempt>`.
    """
    intent = f"{suffix}:intent:{ctx.attempt}"
    keys = (
        f"{ctx.idempotency_key}:{intent}",
        f"{ctx.idempotency_key}:{suffix}:failed:{ctx.attempt}",
    )
    announced, failed = await asyncio.to_thread(_found, db, keys)
    if not announced:
        await ctx.record(SENDING, data, intent)
    return announced and not failed
