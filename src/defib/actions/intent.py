"""The intent of a send is recorded before it, the confirmation after: a send that a crash
may have repeated is known as one.

Slack and mail servers ignore idempotency keys, so a crash between a send and its
confirmation (the `..._sent` timeline event) makes the re-executed step send again. Each
attempt therefore commits `run_step_notification_sending` (with the idempotency key the
peer will see) before its send. An execution that finds an intent with no failure
recorded for that attempt (its own, re-executed after a crash, or an earlier attempt's
that a step timeout cut off mid-send, or the original workflow's before a re-drive
restarted the count) cannot know whether the peer got the message: it sends again
(notifications are at least once) and marks the confirmation `in_doubt`, so the timeline
says which messages may have arrived twice. Mail also carries a `Message-ID`
derived from the key, which mail clients and many servers fold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from defib.actions.base import ActionContext
from defib.store import evidence as store
from defib.store.database import Database

SENDING = "run_step_notification_sending"


_INTENT, _FAILED = ":intent:", ":failed:"


def _attempts(keys: Sequence[str], marker: str) -> set[str]:
    return {k.rsplit(marker, 1)[1] for k in keys if marker in k}


def _earlier(db: Database, prefix: str) -> tuple[set[str], set[str]]:
    """The attempts of this send that announced it, and those that recorded its failure."""
    with db.read() as conn:
        keys = store.timeline_keys_with_prefix(conn, prefix)
    return _attempts(keys, _INTENT), _attempts(keys, _FAILED)


async def announce(ctx: ActionContext, db: Database, suffix: str, data: Mapping[str, Any]) -> bool:
    """Record the intent to send under `suffix` in this attempt (committed on return); True
    if any execution announced this send and recorded no failure for its attempt, i.e. the
    send about to happen may repeat one the peer already has.

    The delivery's failure must be recorded under `<suffix>:failed:<attempt>`.
    """
    announced, failed = await asyncio.to_thread(_earlier, db, f"{ctx.idempotency_key}:{suffix}:")
    if str(ctx.attempt) not in announced:
        await ctx.record(SENDING, data, f"{suffix}{_INTENT}{ctx.attempt}")
    return bool(announced - failed)
