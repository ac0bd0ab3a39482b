"""Upsert statements built once per dialect, picked per connection.

SQLite and PostgreSQL spell `INSERT .. ON CONFLICT` alike, but each statement object belongs
to one dialect's insert construct; hot paths build both at import (not per call: compiling
a statement built per call was most of intake's cost, issue 15) and pick by connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

S = TypeVar("S")


def per_dialect(build: Callable[[Any], S]) -> tuple[S, S]:
    """`build(insert)` for SQLite's and PostgreSQL's `insert`, in that order."""
    return build(sqlite_insert), build(pg_insert)


def pick(conn: Connection, statements: tuple[S, S]) -> S:
    """The statement of `per_dialect` that belongs to this connection's dialect."""
    return statements[conn.dialect.name == "postgresql"]
