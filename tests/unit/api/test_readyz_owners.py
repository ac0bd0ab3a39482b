"""With nobody configured to notify, /readyz says so (issue 24: a SEV1 paged nobody), on
both databases (`make_runtime` runs each test on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.bootstrap import NO_OWNERS_WARNING, Runtime


def _warnings(rt: Runtime) -> list[str]:
    with TestClient(create_app(rt)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 200
    return list(answer.json()["warnings"])


def test_no_owner_anywhere_is_a_readiness_warning(
    make_runtime: Callable[..., Runtime],
) -> None:
    assert NO_OWNERS_WARNING in _warnings(make_runtime())


@pytest.mark.parametrize(
    "config",
    [
        {"default_owners": {"emails": ["sre@example.com"]}},
        {"systems": [{"name": "a", "owners": {"webhooks": [{"url": "https://h.example/x"}]}}]},
        {"notifications": {"security_contacts": ["sec@example.com"]}},
    ],
    ids=["default_owners", "a system's owners", "security contacts"],
)
def test_any_reachable_owner_clears_the_warning(
    make_runtime: Callable[..., Runtime], config: dict[str, object]
) -> None:
    assert NO_OWNERS_WARNING not in _warnings(make_runtime(**config))
