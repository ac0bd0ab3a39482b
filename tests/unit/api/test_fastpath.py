"""The alert routes' lean ASGI path answers exactly what the documented FastAPI routes would."""

from __future__ import annotations

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.api.errors import failure_error
from defib.api.fastpath import AlertFastPath, render, route_of
from defib.api.schemas import AlertResultOut, AlertsAccepted
from defib.auth import Role
from defib.bootstrap import Runtime
from defib.intake.results import IngestResult
from defib.model import IncidentType, Severity


def _as_model(results: list[IngestResult]) -> dict[str, object]:
    one = len(results) == 1
    model = AlertsAccepted(
        message="Event processed" if one else f"{len(results)} alerts processed",
        dedup_key=results[0].dedup_key if one else None,
        results=[AlertResultOut(**r.to_dict()) for r in results],
    )
    return model.model_dump(mode="json")


def test_the_lean_body_is_the_response_model_key_for_key() -> None:
    results = [
        IngestResult("created", "INC-1", IncidentType.PERFORMANCE, Severity.SEV3, "rule x", "k1"),
        IngestResult("ignored", None, None, None, "no rule matched"),
        IngestResult(
            "silenced", None, IncidentType.TOXICITY, Severity.SEV2, "silenced", None, ("s1", "s2")
        ),
        IngestResult(
            "inhibited", None, IncidentType.BIAS, Severity.SEV4, "inhibited", inhibited_by="INC-7"
        ),
    ]
    for batch in (results, results[:1]):
        body = orjson.loads(render(batch))
        assert body == _as_model(batch)
        assert list(body) == list(_as_model(batch))


def test_only_posts_to_the_three_alert_routes_take_the_lean_path() -> None:
    assert route_of("POST", "/api/v2/alerts") == (True, "prometheus")
    assert route_of("POST", "/api/v1/alerts") == (True, None)
    assert route_of("POST", "/api/v1/alerts/grafana") == (True, "grafana")
    assert route_of("POST", "/api/v1/alerts/nope") == (True, "nope")  # 404 there, as before
    assert route_of("GET", "/api/v2/alerts") is None
    assert route_of("POST", "/api/v1/alerts/") is None
    assert route_of("POST", "/api/v1/alerts/a/b") is None
    assert route_of("POST", "/api/v1/incidents") is None


def _without_fast_path(runtime: Runtime) -> FastAPI:
    """The same app with the lean layer taken off: requests reach the FastAPI routes."""
    app = create_app(runtime)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not AlertFastPath]
    return app


REFUSALS: list[tuple[str, str, bytes, Role | None]] = [
    ("unknown format", "/api/v1/alerts/nope", b"{}", Role.ADMIN),
    ("empty body", "/api/v1/alerts", b"", Role.ADMIN),
    ("not JSON", "/api/v1/alerts/native", b"{nope", Role.ADMIN),
    ("invalid payload", "/api/v1/alerts/native", b'{"title": 5}', Role.ADMIN),
    ("duplicate keys", "/api/v1/alerts", b'{"a": 1, "a": 2}', Role.ADMIN),
    ("read-only token", "/api/v1/alerts", b"{}", Role.VIEWER),
    ("no token", "/api/v2/alerts", b"[]", None),
]


@pytest.mark.parametrize(("case", "path", "body", "role"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_both_entry_points_refuse_alike(
    runtime: Runtime,
    tokens: dict[Role, str],
    case: str,
    path: str,
    body: bytes,
    role: Role | None,
) -> None:
    """The fast path and the FastAPI routes answer a refused request with the same status,
    body and challenge."""
    headers = {"Content-Type": "application/json"}
    if role is not None:
        headers["Authorization"] = f"Bearer {tokens[role]}"
    answers = []
    for app in (create_app(runtime), _without_fast_path(runtime)):
        with TestClient(app) as client:
            r = client.post(path, content=body, headers=headers)
        answers.append((r.status_code, r.json(), r.headers.get("www-authenticate")))
    assert answers[0] == answers[1], case
    assert answers[0][0] >= 400


def test_both_entry_points_accept_alike(runtime: Runtime, tokens: dict[Role, str]) -> None:
    """An accepted alert gets the same status and body shape through either entry point."""
    headers = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    bodies = []
    for i, app in enumerate((create_app(runtime), _without_fast_path(runtime))):
        alert = {"source": "t", "type": "availability", "title": "down", "systems": [f"s{i}"]}
        with TestClient(app) as client:
            r = client.post("/api/v1/alerts/native", json=alert, headers=headers)
            v2 = client.post("/api/v2/alerts", json=[], headers=headers)
        assert (r.status_code, v2.status_code) == (202, 200)
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["results"][0]["action"] == "created"
        body["results"][0]["incident_id"] = "INC-?"
        bodies.append(body)
    assert bodies[0] == bodies[1]


def test_a_lock_conflict_is_503_for_every_entry_point() -> None:
    """The one failure mapping (used by the app's handlers and the fast path) answers an
    unretried deadlock 503 with Retry-After, and any other surprise 500."""
    from sqlalchemy.exc import OperationalError

    class Deadlock(Exception):
        sqlstate = "40P01"

    err = failure_error(OperationalError("UPDATE ...", {}, Deadlock("deadlock detected")))
    assert (err.status, err.code, err.headers) == (503, "lock_conflict", {"Retry-After": "1"})
    assert failure_error(ValueError("x")).status == 500
