"""Outage fixtures: a PostgreSQL cluster of the test's own and a small tmpfs for SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import receiver  # noqa: F401  (the loopback receiver, shared)
from tests.support.outage.storage import SmallDisk, ThrowawayPostgres


@pytest.fixture(scope="module")
def own_pg() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres.create()
    yield pg
    pg.destroy()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk.mount(tmp_path)
    yield disk
    disk.unmount()
