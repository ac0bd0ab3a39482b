"""Schemathesis drives every operation of our own OpenAPI spec: no 500s, no partial writes,
and every answer matches what the document declares (status, content type, body schema)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.config import load_settings
from defib.store import tokens as token_repo
from defib.store.tables import alerts, incidents, timeline_events
from tests.conftest import _truncate_all


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_runtime(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    """A runtime on each database (issue 25: zero server errors on both)."""
    data: Path = tmp_path_factory.mktemp("fuzz")
    overrides: dict[str, Any] = {}
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        _truncate_all(url)
        overrides["database_url"] = url
    rt = Runtime(load_settings(None, data_dir=data, **overrides))
    yield rt
    assert_consistent(rt)
    rt.close()


@pytest.fixture(scope="module")
def fuzz_token(fuzz_runtime: Runtime) -> str:
    token = generate_token()
    with fuzz_runtime.db.write() as conn:
        token_repo.create_token(
            conn, name="fuzzer", role=Role.ADMIN, token=token, created_by="test", now=utcnow()
        )
    return token


@pytest.fixture(scope="module")
def api_schema(fuzz_runtime: Runtime, fuzz_token: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzz_runtime))
    schema.config.headers = {"Authorization": f"Bearer {fuzz_token}"}
    return schema


def assert_consistent(rt: Runtime) -> None:
    """Whatever the fuzzer sent, the stored record is whole: no half-written incident."""
    with rt.db.read() as conn:
        n_incidents = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
        created = conn.execute(
            select(func.count())
            .select_from(timeline_events)
            .where(timeline_events.c.kind == "created")
        ).scalar_one()
        assert created == n_incidents
        for seq, count in conn.execute(select(incidents.c.seq, incidents.c.alert_count)):
            linked = conn.execute(
                select(func.count())
                .select_from(alerts)
                .where(
                    alerts.c.incident_seq == seq,
                    alerts.c.action.in_(["created", "merged", "reopened"]),
                )
            ).scalar_one()
            assert linked == count, f"INC-{seq}: alert_count {count} but {linked} alerts linked"


# An instant anywhere in a typed answer (RFC 3339 with an offset) must be UTC with a `Z`.
_OFFSET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            # `meta`, `config`, `control_plane`: maps kept as their authors wrote them.
            if k not in ("meta", "config", "control_plane"):
                yield from _strings(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")


def timestamps_are_utc_z(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """A timestamp with `+00:00` (or any offset) in a typed field breaks the one-format rule."""
    if "json" not in response.headers.get("content-type", [""])[0]:
        return None
    for where, text in _strings(response.json()):
        if _OFFSET_TIME.match(text):
            raise AssertionError(f"{where or 'body'}: {text!r} is not RFC 3339 UTC with Z")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    timestamps_are_utc_z,
]


def test_answers_match_the_schema(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation, generated bodies and parameters: never a 5xx, and every answer is
    one the OpenAPI document declares, in its declared schema."""
    # Driven by hand rather than by schemathesis' pytest plugin, which does not load under
    # pytest 9 (it reaches for a private attribute pytest removed).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        run()
