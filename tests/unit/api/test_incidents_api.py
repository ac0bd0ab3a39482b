"""REST behaviour: declare, list, transitions, notes, timeline, and the error shapes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from defib.bootstrap import Runtime

DECLARE = {
    "type": "hallucination",
    "severity": "SEV3",
    "title": "Made-up citations",
    "affected_systems": ["rag-answerer"],
}


def people_events(events: list[dict[str, object]]) -> list[dict[str, object]]:
    """Timeline events minus the playbook engine's own (run_*, step_*)."""
    return [e for e in events if not str(e["kind"]).startswith(("run_", "step_"))]


def declare(c: TestClient, **kw: object) -> dict[str, object]:
    r = c.post("/api/v1/incidents", json={**DECLARE, **kw})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_declare_then_get_returns_the_same_record(admin: TestClient) -> None:
    inc = declare(admin)
    assert inc["id"] == "INC-1"
    assert inc["status"] == "detected"
    assert inc["created_by"] == "admin-bot"
    got = admin.get("/api/v1/incidents/inc-1").json()
    assert got == inc


def test_lifecycle_over_http_and_timeline_names_actors(admin: TestClient) -> None:
    inc = declare(admin)
    r = admin.post(f"/api/v1/incidents/{inc['id']}/acknowledge", json={"note": "looking"})
    assert r.status_code == 200
    assert r.json()["status"] == "acknowledged"
    assert admin.post(f"/api/v1/incidents/{inc['id']}/resolve").json()["status"] == "resolved"
    assert (
        admin.post(
            f"/api/v1/incidents/{inc['id']}/notes", json={"text": "root cause: prompt"}
        ).status_code
        == 201
    )
    tl = admin.get(f"/api/v1/incidents/{inc['id']}/timeline").json()
    assert [(e["kind"], e["actor"]) for e in people_events(tl["items"])] == [
        ("created", "admin-bot"),
        ("transition", "admin-bot"),
        ("transition", "admin-bot"),
        ("note", "admin-bot"),
    ]
    second = people_events(tl["items"])[1]
    after = admin.get(f"/api/v1/incidents/{inc['id']}/timeline", params={"after": second["id"]})
    assert [e["kind"] for e in people_events(after.json()["items"])] == ["transition", "note"]


def test_illegal_transition_is_409_json_and_changes_nothing(admin: TestClient) -> None:
    inc = declare(admin)
    admin.post(f"/api/v1/incidents/{inc['id']}/close")
    r = admin.post(f"/api/v1/incidents/{inc['id']}/acknowledge")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "illegal_transition"
    assert "already closed" in r.json()["error"]["message"]
    assert admin.get(f"/api/v1/incidents/{inc['id']}").json()["status"] == "closed"


def test_unknown_incident_is_404_json(admin: TestClient) -> None:
    for path in ("/api/v1/incidents/INC-77", "/api/v1/incidents/garbage"):
        r = admin.get(path)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


def test_validation_errors_name_the_field(admin: TestClient) -> None:
    r = admin.post("/api/v1/incidents", json={**DECLARE, "severity": "SEV9"})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("severity:")
    r = admin.post("/api/v1/incidents", json={**DECLARE, "colour": "red"})
    assert r.status_code == 422
    assert "colour" in r.json()["error"]["message"]
    r = admin.get("/api/v1/incidents", params={"limit": 0})
    assert r.status_code == 422
    assert "limit" in r.json()["error"]["message"]


def test_patch_changes_fields_and_records_them(admin: TestClient) -> None:
    inc = declare(admin)
    r = admin.patch(
        f"/api/v1/incidents/{inc['id']}", json={"severity": "SEV1", "commander": "dana"}
    )
    assert r.status_code == 200
    assert (r.json()["severity"], r.json()["commander"]) == ("SEV1", "dana")
    events = admin.get(f"/api/v1/incidents/{inc['id']}/timeline").json()["items"]
    kinds = [e["kind"] for e in people_events(events)]
    assert kinds == ["created", "severity_changed", "commander_changed"]


def test_list_filters_and_cursor_pages(admin: TestClient) -> None:
    for i in range(5):
        declare(admin, title=f"n{i}", severity="SEV1" if i % 2 else "SEV3")
    page = admin.get("/api/v1/incidents", params={"limit": 2}).json()
    assert [i["title"] for i in page["items"]] == ["n4", "n3"]
    nxt = admin.get("/api/v1/incidents", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [i["title"] for i in nxt["items"]] == ["n2", "n1"]
    sev1 = admin.get("/api/v1/incidents", params={"severity": "SEV1"}).json()
    assert [i["title"] for i in sev1["items"]] == ["n3", "n1"]
    both = admin.get(
        "/api/v1/incidents", params=[("status", "detected"), ("status", "closed")]
    ).json()
    assert len(both["items"]) == 5
    assert admin.get("/api/v1/incidents", params={"cursor": "zzz"}).status_code == 422


def test_body_over_the_limit_is_413_and_nothing_is_stored(
    admin: TestClient, runtime: Runtime
) -> None:
    big = {**DECLARE, "description": "x" * (runtime.settings.max_body_bytes + 10)}
    r = admin.post("/api/v1/incidents", json=big)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert admin.get("/api/v1/incidents").json()["items"] == []


def test_openapi_is_served_and_no_cdn_docs_page(client: TestClient) -> None:
    """/openapi.json is served; /docs and /redoc are not (FastAPI's pages load script from a
    CDN onto the console's origin, issue 25)."""
    spec = client.get("/openapi.json").json()
    assert "/api/v1/incidents/{incident_id}/acknowledge" in spec["paths"]
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_readyz_reports_the_database(client: TestClient) -> None:
    assert client.get("/readyz").json()["status"] == "ready"
    assert client.get("/healthz").json()["status"] == "ok"
