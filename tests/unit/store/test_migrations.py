"""Migrations build the schema the code expects, from empty, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from defib.store import migrate
from defib.store.database import Database
from defib.store.tables import metadata


def test_upgrade_from_empty_matches_the_table_definitions(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"migrations and tables.py disagree: {diff}"
    finally:
        db.dispose()


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate.upgrade(db)
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
    finally:
        db.dispose()


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate.upgrade(db)
        migrate.downgrade(db, "base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        migrate.upgrade(db)
        assert {t.name for t in metadata.sorted_tables} <= set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.db")
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        db.dispose()
