"""Shared fixtures: every storage test runs on SQLite and on the machine's real PostgreSQL.

PostgreSQL gets one fresh database per test session (dropped at the end); tests on it
start from truncated tables. Set DEFIB_TEST_PG=0 to run the SQLite half only;
DEFIB_TEST_REQUIRE_PG=1 (CI) turns an unreachable server into a failure, not a skip.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

# Helpers and fixtures in tests/support get assert rewriting, as conftests do.
pytest.register_assert_rewrite("tests.support")

# Property tests check behaviour, not speed: Hypothesis's default 200 ms deadline per example
# failed gateway stream properties on a loaded 2-core CI. Speed lives in bench/.
hypothesis_settings.register_profile("defib", deadline=None)
hypothesis_settings.load_profile("defib")

if TYPE_CHECKING:
    from defib.bootstrap import Runtime

# `defib login` state is per user; tests must neither read nor overwrite the developer's.
os.environ["DEFIB_LOGIN_FILE"] = str(
    Path(tempfile.mkdtemp(prefix="defib-test-login-")) / "login.json"
)
os.environ.pop("DEFIB_HOME", None)

PG_ADMIN_URL = os.environ.get(
    "DEFIB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_wanted() -> bool:
    return os.environ.get("DEFIB_TEST_PG", "1") != "0"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    if not _pg_wanted():
        pytest.skip("PostgreSQL tests disabled by DEFIB_TEST_PG=0")
    name = f"defib_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("DEFIB_TEST_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    from defib.store import migrate
    from defib.store.database import Database

    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    from defib.store.tables import metadata

    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session (per xdist worker): tests get copies of it, so
    each SQLite test starts migrated, like a PostgreSQL one, without replaying every
    migration (a fresh upgrade costs 0.3-0.6 s; one at head ~15 ms)."""
    from defib.store import migrate
    from defib.store.database import Database

    path = tmp_path_factory.mktemp("sqlite-template") / "defib.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    # Closing the last connection checkpoints the WAL: the one file holds everything.
    assert not path.with_name("defib.db-wal").exists()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database's URL, once per backend; each test starts from empty tables."""
    if request.param == "sqlite":
        path = tmp_path / "defib.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        # What hardening.private_file gives a new database: Runtime warns of looser modes.
        path.chmod(0o600)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    _truncate_all(url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[object]:
    """A migrated Database on each backend (database_url's is migrated already)."""
    from defib.store.database import Database

    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def make_runtime(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Build Runtimes on the test's database (closed at the end); kwargs override settings."""
    from defib.bootstrap import Runtime
    from defib.config import load_settings

    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        rt = Runtime(
            load_settings(None, data_dir=tmp_path / "data", database_url=database_url, **overrides)
        )
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()
