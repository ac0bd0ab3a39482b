"""API fixtures: a Runtime on each backend, an app, and one token per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.config import load_settings
from defib.store import tokens as token_repo


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(load_settings(None, data_dir=tmp_path / "data", database_url=database_url))
    yield rt
    rt.close()


@pytest.fixture
def tokens(runtime: Runtime) -> dict[Role, str]:
    out = {}
    with runtime.db.write() as conn:
        for role in Role:
            token = generate_token()
            token_repo.create_token(
                conn,
                name=f"{role.value}-bot",
                role=role,
                token=token,
                created_by="test",
                now=utcnow(),
            )
            out[role] = token
    return out


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


@pytest.fixture
def admin(client: TestClient, tokens: dict[Role, str]) -> TestClient:
    client.headers["Authorization"] = f"Bearer {tokens[Role.ADMIN]}"
    return client
