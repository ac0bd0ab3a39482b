"""The one list envelope of the API: `{"items": [...], "next_cursor": "..." | null}`.

Every list route takes `limit` and `cursor` (`LimitQuery`, `CursorQuery`) and answers a
`Page[...]` subclass; tests/unit/api/test_contract.py enforces it. Cursors are opaque to
clients: a tag naming the list plus the key of the last item handed out, so a cursor from
one list is refused by another (422) instead of silently paging something else.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from defib.model import InvalidInput

T = TypeVar("T")
ItemT = TypeVar("ItemT")

# Routes that mirror another product's API (Alertmanager's v2 silences) keep its shapes, a
# bare array included: tag them with this and the envelope rule of the contract test skips
# them (they still need response models).
COMPAT_TAG = "alertmanager-compatible"

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description="At most this many items in one page.")
]
CursorQuery = Annotated[
    str | None,
    Query(max_length=200, description="The `next_cursor` of the previous page."),
]


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


def encode_cursor(tag: str, key: str | int) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{key}".encode()).decode().rstrip("=")


def decode_cursor(tag: str, cursor: str) -> str:
    """The key inside a cursor of list `tag`; InvalidInput (422) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor: not a cursor this server handed out") from exc
    found, sep, key = raw.partition(":")
    if found != tag or not sep or not key:
        raise InvalidInput("cursor: not a cursor of this list")
    return key


def decode_int_cursor(tag: str, cursor: str) -> int:
    key = decode_cursor(tag, cursor)
    # Bounded: a forged huge number would overflow the database's 64-bit ids into a 500.
    if not (key.isascii() and key.isdigit()) or len(key) > 18:
        raise InvalidInput("cursor: not a cursor of this list")
    return int(key)


def slice_page(
    items: Sequence[T], key: Callable[[T], str | int], tag: str, limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """A page of an in-memory list (already in its order) after the cursor's item.

    The cursor names the last item's key, not a position, so items added at the front
    between two requests neither repeat nor go missing.
    """
    start = 0
    if cursor is not None:
        wanted = decode_cursor(tag, cursor)
        keys = [str(key(i)) for i in items]
        if wanted not in keys:
            raise InvalidInput("cursor: its item is gone; start again without a cursor")
        start = keys.index(wanted) + 1
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, encode_cursor(tag, key(page[-1])) if more and page else None
