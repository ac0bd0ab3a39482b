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
from collections.abc import Mapping
from typing import Any

from defib.actions.base import ActionContext
from defib.events import TimelineKind
from defib.store import evidence as store
from defib.store.database import Database

SENDING = TimelineKind.STEP_NOTIFICATION_SENDING


# Attempts a step can have: Retries.count is at most 20 (playbooks/spec.py). Looking up
# each attempt's keys by equality keeps the lookup on the unique index (a LIKE prefix
# would scan the whole timeline on both databases).
_MOST_ATTEMPTS = 21


def _earlier(db: Database, base: str, attempt: int) -> tuple[set[int], set[int]]:
    """The attempts of this send that announced it, and those that recorded its failure."""
    numbers = range(1, max(attempt, _MOST_ATTEMPTS) + 1)
    intents = {f"{base}:intent:{n}": n for n in numbers}
    failures = {f"{base}:failed:{n}": n for n in numbers}
    with db.read() as conn:
        found = store.timeline_keys_among(conn, [*intents, *failures])
    announced = {intents[k] for k in found if k in intents}
    return announced, {failures[k] for k in found if k in failures}


async def announce(ctx: ActionContext, db: Database, suffix: str, data: Mapping[str, Any]) -> bool:
    """Record the intent to send under `suffix` in this attempt (committed on return); True
    if any execution announced this send and recorded no failure for its attempt, i.e. the
    send about to happen may repeat one the peer already has.

    The delivery's failure must be recorded under `<suffix>:failed:<attempt>`.
    """
    announced, failed = await asyncio.to_thread(
        _earlier, db, f"{ctx.idempotency_key}:{suffix}", ctx.attempt
    )
    if ctx.attempt not in announced:
        await ctx.record(SENDING, data, f"{suffix}:intent:{ctx.attempt}")
    return bool(announced - failed)
