"""The alert routes' lean ASGI path answers exactly what the documented FastAPI routes would."""

from __future__ import annotations

import orjson

from defib.api.fastpath import render, route_of
from defib.api.schemas import AlertResultOut, AlertsAccepted
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
