"""Group commit: one transaction for the jobs waiting, a failing job rolled back alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from defib.playbooks.engine.group_writer import GroupWriter, _Job
from defib.store.database import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    with database.write() as conn:
        conn.execute(text("DROP TABLE IF EXISTS gw_probe"))
        conn.execute(text("CREATE TABLE gw_probe (k VARCHAR(20) PRIMARY KEY)"))
    yield database
    with database.write() as conn:
        conn.execute(text("DROP TABLE gw_probe"))
    database.dispose()


def _insert(k: str) -> _Job:
    def fn(conn: Connection) -> str:
        conn.execute(text("INSERT INTO gw_probe (k) VALUES (:k)"), {"k": k})
        return k

    return _Job(fn)


def _stored(db: Database) -> set[str]:
    with db.read() as conn:
        return {row[0] for row in conn.execute(text("SELECT k FROM gw_probe"))}


def test_a_group_of_good_jobs_commits_together_and_answers_each(db: Database) -> None:
    writer = GroupWriter(db)
    jobs = [_insert(k) for k in ("a", "b", "c")]
    writer._commit(jobs)
    assert [j.future.result(timeout=5) for j in jobs] == ["a", "b", "c"]
    assert _stored(db) == {"a", "b", "c"}


def test_a_failing_job_is_rolled_back_alone_and_its_caller_gets_the_error(db: Database) -> None:
    writer = GroupWriter(db)
    jobs = [_insert("a"), _insert("dup"), _insert("dup"), _insert("b")]
    writer._commit(jobs)
    assert jobs[0].future.result(timeout=5) == "a"
    assert jobs[1].future.result(timeout=5) == "dup"
    assert jobs[2].future.exception(timeout=5) is not None  # the second "dup" breaks the key
    assert jobs[3].future.result(timeout=5) == "b"
    assert _stored(db) == {"a", "dup", "b"}


def test_run_answers_after_the_commit(db: Database) -> None:
    writer = GroupWriter(db)
    try:
        assert writer.run(_insert("x").fn) == "x"
        assert _stored(db) == {"x"}
    finally:
        writer.close()
