"""Console fixtures: a Runtime on each backend, its app, a token per role, and sign-in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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


def make_tokens(runtime: Runtime) -> dict[Role, str]:
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
def tokens(runtime: Runtime) -> dict[Role, str]:
    return make_tokens(runtime)


@pytest.fixture
def tokens_for() -> Callable[[Runtime], dict[Role, str]]:
    return make_tokens


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


SignIn = Callable[[Role], TestClient]


@pytest.fixture
def sign_in(client: TestClient, tokens: dict[Role, str]) -> SignIn:
    def do(role: Role) -> TestClient:
        form = client.get("/login")
        response = client.post(
            "/login", data={"token": tokens[role], "csrf": csrf_of(form.text), "next": "/"}
        )
        assert response.status_code == 303, response.text
        return client

    return do
