"""Input edges answered the same on both databases, never with a 500 (issue 11)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from defib.api.jsonguard import check, nul_path
from defib.bootstrap import Runtime
from defib.config import load_settings

ALERT = (
    '{"source": "guardrails", "type": "toxicity", "title": "Toxic replies",'
    ' "systems": ["chat-api"], "labels": {"team": "a\\u0000b"}}'
)


def test_a_nul_character_is_refused_naming_the_field(admin: TestClient) -> None:
    r = admin.post("/api/v1/alerts", content=ALERT, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("labels.team: contains a NUL character")
    declared = admin.post(
        "/api/v1/incidents",
        json={"type": "toxicity", "severity": "SEV2", "title": "bad\x00title"},
    )
    assert declared.status_code == 422, declared.text
    assert "title" in declared.json()["error"]["message"]
    assert admin.get("/api/v1/incidents").json()["items"] == []


def test_duplicate_keys_are_refused(admin: TestClient) -> None:
    body = '{"source": "a", "type": "toxicity", "type": "data_leak", "title": "t"}'
    r = admin.post("/api/v1/alerts", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "duplicate key 'type'" in r.json()["error"]["message"]


def test_out_of_range_integers_are_422_or_404(admin: TestClient) -> None:
    inc = admin.post(
        "/api/v1/incidents", json={"type": "toxicity", "severity": "SEV2", "title": "t"}
    ).json()["id"]
    huge = admin.get(f"/api/v1/incidents/{inc}/timeline", params={"after": 10862919478997104640})
    assert huge.status_code == 422, huge.text
    for n in (99999999999, 10862919478997104640):
        missing = admin.get(f"/api/v1/incidents/{inc}/evidence/{n}")
        assert missing.status_code == 404, missing.text
    cursor = "czo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ"  # base64 of s:<a 30-digit number>
    assert admin.get("/api/v1/incidents", params={"cursor": cursor}).status_code == 422


def test_the_guard_names_nested_fields() -> None:
    assert nul_path({"alerts": [{"labels": {"x": "ok"}}, {"labels": {"y": "\x00"}}]}) == (
        "alerts[1].labels.y"
    )
    assert nul_path(["a", "b\x00"]) == "[1]"
    assert nul_path({"k\x00": 1}) == "k\\u0000"
    assert check(b'{"a": "\\\\u0000"}') is None  # an escaped backslash, not a NUL
    assert check(b"not json") is None
    assert check(b'{"a": {"b": 1, "b": 2}}') == (
        400,
        "bad_request",
        "duplicate key 'b' in a JSON object",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_data_files_are_private_and_looser_ones_are_warned_about(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    rt = Runtime(load_settings(None, data_dir=data))
    try:
        assert rt.security_warnings == []
        blob = rt_blob(rt, data)
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode)
            for p in (data, data / "defib.db", data / "defib.dbos.db", blob, blob.parent)
        }
        assert modes == {
            "data": 0o700,
            "defib.db": 0o600,
            "defib.dbos.db": 0o600,
            blob.name: 0o400,
            blob.parent.name: 0o700,
        }
    finally:
        rt.close()
    (data / "defib.db").chmod(0o644)
    data.chmod(0o755)
    again = Runtime(load_settings(None, data_dir=data))
    try:
        warned = "\n".join(again.security_warnings)
        assert "the data directory" in warned and "0755" in warned
        assert "defib.db is mode 0644" in warned
    finally:
        again.close()


def rt_blob(rt: Runtime, data: Path) -> Path:
    from defib.evidence.blobs import BlobStore

    store = BlobStore(data / "evidence")
    return store.path(store.put(b"evidence"))
