"""Taxonomy, review fields, the postmortem and the response report through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from defib.bootstrap import Runtime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _alert(system: str, kind: str, title: str) -> dict[str, object]:
    return {
        "source": "guardrails",
        "type": kind,
        "title": title,
        "systems": [system],
        "severity": "high",
        "dedup_key": f"{system}-{kind}",
    }


def test_taxonomy_defaults_refined_edited_and_on_the_timeline(admin: TestClient) -> None:
    admin.post("/api/v1/alerts", json=_alert("bot", "data_leak", "System prompt leaked"))
    got = admin.get("/api/v1/incidents/INC-1/taxonomy").json()
    assert [e["id"] for e in got["owasp_llm"]] == ["LLM02", "LLM07"]
    assert got["basis"][0] == "default:data_leak"
    assert got["sources"]["nist_ai_600_1"]["version"] == "July 2024"

    bad = admin.put("/api/v1/incidents/INC-1/taxonomy", json={"owasp_llm": ["LLM99"]})
    assert bad.status_code == 422
    assert "LLM99" in bad.json()["error"]["message"]
    put = admin.put(
        "/api/v1/incidents/INC-1/taxonomy",
        json={"owasp_llm": ["LLM07"], "nist_ai_600_1": ["data_privacy"]},
    )
    assert put.status_code == 200
    assert put.json()["edited_at"].endswith("Z"), put.json()  # one format: RFC 3339 UTC, Z
    assert [e["id"] for e in admin.get("/api/v1/incidents/INC-1/taxonomy").json()["owasp_llm"]] == [
        "LLM07"
    ]
    timeline = admin.get("/api/v1/incidents/INC-1/timeline").json()
    events = timeline.get("items") or timeline["events"]  # the list envelope may rename it
    kinds = [e["kind"] for e in events]
    assert "taxonomy_changed" in kinds


def test_review_fields_patch_and_postmortem(admin: TestClient, runtime: Runtime) -> None:
    admin.post("/api/v1/alerts", json=_alert("kb", "hallucination", "Invented refund policy"))
    assert admin.get("/api/v1/incidents/INC-1/review").json()["lessons"] == []
    patched = admin.patch(
        "/api/v1/incidents/INC-1/review",
        json={
            "summary": "The KB bot invented a refund policy.",
            "lessons": ["Ground answers in the policy index"],
            "action_items": [{"text": "Add a grounding probe", "owner": "ml"}],
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["updated_by"] == "admin-bot"
    assert patched.json()["updated_at"].endswith("Z"), patched.json()
    again = admin.patch("/api/v1/incidents/INC-1/review", json={"contributing_factors": ["x"]})
    assert again.json()["lessons"] == ["Ground answers in the policy index"]  # kept

    doc = admin.get("/api/v1/incidents/INC-1/postmortem").json()
    assert doc["summary"] == "The KB bot invented a refund policy."
    assert doc["review"]["action_items"][0]["owner"] == "ml"
    assert doc["review"]["updated_at"].endswith("Z"), doc["review"]
    assert [e["id"] for e in doc["taxonomy"]["owasp_llm"]] == ["LLM09"]
    assert doc["evidence"]["verification"]["ok"] is True
    md = admin.get("/api/v1/incidents/INC-1/postmortem", params={"format": "md"})
    assert md.headers["content-type"].startswith("text/markdown")
    assert "## Lessons\n\n- Ground answers in the policy index" in md.text
    html = admin.get("/api/v1/incidents/INC-1/postmortem", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    aiid = admin.get("/api/v1/incidents/INC-1/postmortem", params={"format": "aiid"}).json()
    assert aiid["title"].endswith("(INC-1)")
    assert "OWASP:LLM09 Misinformation" in aiid["tags"]
    assert admin.get("/api/v1/incidents/INC-9/postmortem").status_code == 404


def test_response_report(admin: TestClient, runtime: Runtime) -> None:
    clock = Clock()
    runtime.incidents.clock = clock
    admin.post("/api/v1/alerts", json=_alert("a", "toxicity", "t1"))
    admin.post("/api/v1/alerts", json=_alert("b", "toxicity", "t2"))
    admin.post("/api/v1/alerts", json=_alert("a", "bias", "b1"))
    clock.advance(60)
    admin.post("/api/v1/incidents/INC-1/acknowledge")
    clock.advance(60)
    admin.post("/api/v1/incidents/INC-2/acknowledge")
    admin.post("/api/v1/incidents/INC-1/mitigate")
    admin.post("/api/v1/incidents/INC-1/resolve")
    admin.post("/api/v1/incidents/INC-1/reopen")

    report = admin.get("/api/v1/reports/response", params={"since": "7d"}).json()
    assert report["overall"]["incidents"] == 3
    tox = next(g for g in report["by_type_severity"] if g["type"] == "toxicity")
    assert tox["incidents"] == 2
    # INC-1's acknowledgement was cleared by the reopen: only INC-2's 120 s remains.
    assert tox["mtta"] == {"count": 1, "mean": 120.0, "p50": 120.0, "p90": 120.0}
    assert report["top_systems"][0] == {"system": "a", "incidents": 2}
    assert report["reopened"] == 1
    assert report["reopen_rate"] == round(1 / 3, 4)
    assert admin.get("/api/v1/reports/response", params={"since": "soon"}).status_code == 422
