"""Silences under a responder who should not hide everything (issue 25), on both databases:
breadth and length need an admin, `createdBy` is the token, every change is audited, and a
silenced data leak is still told to security."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role, generate_token
from defib.bootstrap import Runtime
from defib.clock import utcnow
from defib.store import tokens as token_repo
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer, MailPeer

Make = Callable[..., Runtime]


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _body(*matchers: dict[str, Any], hours: float = 2, by: str = "someone-else") -> dict[str, Any]:
    return {
        "matchers": list(matchers),
        "startsAt": _iso(timedelta(0)),
        "endsAt": _iso(timedelta(hours=hours)),
        "createdBy": by,
        "comment": "rollout",
    }


def _m(name: str, value: str, regex: bool = False) -> dict[str, Any]:
    return {"name": name, "value": value, "isRegex": regex}


def _bearer(rt: Runtime, role: Role) -> dict[str, str]:
    token = generate_token()
    with rt.db.write() as conn:
        token_repo.create_token(
            conn, name=f"{role.value}-ann", role=role, token=token, created_by="t", now=utcnow()
        )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def http_peer() -> Iterator[HttpPeer]:
    peer = HttpPeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def mail_peer() -> Iterator[MailPeer]:
    peer = MailPeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def rt(
    make_runtime: Make, http_peer: HttpPeer, mail_peer: MailPeer, monkeypatch: pytest.MonkeyPatch
) -> Runtime:
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")
    return make_runtime(**systems_config(http_peer, mail_peer))


def test_a_responder_cannot_silence_every_alert(rt: Runtime) -> None:
    """The review's attack: `type=~".+"` until 2030 from a responder is 403; so are
    `system=~".+"`, every alert of a type and every alert of a system; an admin may."""
    responder, admin = _bearer(rt, Role.RESPONDER), _bearer(rt, Role.ADMIN)
    with TestClient(create_app(rt)) as client:
        until_2030 = {**_body(_m("type", ".+", True)), "endsAt": "2030-01-01T00:00:00Z"}
        for body in (
            until_2030,
            _body(_m("system", ".+", True), _m("type", "data_leak")),
            _body(_m("system", ".*x|.+", True), _m("type", "toxicity")),
            _body(_m("type", "data_leak")),
            _body(_m("system", "chat-api")),
        ):
            refused = client.post("/api/v2/silences", json=body, headers=responder)
            assert refused.status_code == 403, (body, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"
            assert "only an admin" in refused.json()["error"]["message"]
        narrow = _body(_m("system", "chat-api"), _m("type", "performance"))
        assert client.post("/api/v2/silences", json=narrow, headers=responder).status_code == 200
        assert client.post("/api/v2/silences", json=until_2030, headers=admin).status_code == 200


def test_a_responder_silence_lasts_at_most_the_maximum(make_runtime: Make) -> None:
    """Seven days by default; longer needs an admin; the maximum is configurable."""
    rt = make_runtime(silences={"max_duration_hours": 24})
    responder, admin = _bearer(rt, Role.RESPONDER), _bearer(rt, Role.ADMIN)
    narrow = (_m("system", "a"), _m("type", "bias"))
    with TestClient(create_app(rt)) as client:
        ok = client.post("/api/v2/silences", json=_body(*narrow, hours=23), headers=responder)
        assert ok.status_code == 200
        long = _body(*narrow, hours=25)
        refused = client.post("/api/v2/silences", json=long, headers=responder)
        assert refused.status_code == 403 and "longer than 1 day" in refused.text
        assert client.post("/api/v2/silences", json=long, headers=admin).status_code == 200


def test_created_by_is_the_token_and_every_change_is_audited(rt: Runtime) -> None:
    """The stored createdBy names the token (the client's word is in the comment); adding,
    changing and expiring are audit events and land on the open incident's timeline."""
    responder = _bearer(rt, Role.RESPONDER)
    with TestClient(create_app(rt)) as client:
        alert = {
            "source": "m",
            "type": "performance",
            "title": "slow",
            "systems": ["chat-api"],
            "severity": "high",
        }
        opened = client.post("/api/v1/alerts", json=alert, headers=responder).json()["results"][0]
        body = _body(_m("system", "chat-api"), _m("type", "performance"), by="the-boss")
        sid = client.post("/api/v2/silences", json=body, headers=responder).json()["silenceID"]
        got = client.get(f"/api/v2/silence/{sid}", headers=responder).json()
        assert got["createdBy"] == "responder-ann"
        assert got["comment"] == "rollout [createdBy from the client: the-boss]"
        longer = {**body, "id": sid, "endsAt": _iso(timedelta(hours=5)), "comment": "longer"}
        assert client.post("/api/v2/silences", json=longer, headers=responder).status_code == 200
        assert client.delete(f"/api/v2/silence/{sid}", headers=responder).status_code == 200
        audit = client.get("/api/v1/audit", headers=responder)
        assert audit.status_code == 200, audit.text
        events = [e for e in audit.json()["items"] if e["subject"] == sid]
        assert [e["kind"] for e in events] == [
            "silence_expired",
            "silence_updated",
            "silence_added",
        ]
        assert {e["actor"] for e in events} == {"responder-ann"}
        assert events[-1]["data"]["incidents"] == [opened["incident_id"]]
        one = client.get("/api/v1/audit", params={"limit": 1}, headers=responder).json()
        rest = client.get(
            "/api/v1/audit", params={"cursor": one["next_cursor"]}, headers=responder
        ).json()
        assert [e["id"] for e in one["items"] + rest["items"]][:3] == [e["id"] for e in events]
        timeline = client.get(
            f"/api/v1/incidents/{opened['incident_id']}/timeline", headers=responder
        ).json()["items"]
        kinds = [e["kind"] for e in timeline if e["kind"].startswith("silence_")]
        assert kinds == ["silence_added", "silence_updated", "silence_expired"]
        assert client.get("/api/v1/audit").status_code == 401


def test_a_silenced_data_leak_is_still_told_to_security(
    rt: Runtime, http_peer: HttpPeer, mail_peer: MailPeer
) -> None:
    """The alert is stored as silenced and opens nothing, but security's webhook and mail
    hear of it and the audit log says so; a silenced toxicity alert tells nobody."""
    admin = _bearer(rt, Role.ADMIN)
    with TestClient(create_app(rt)) as client:
        body = _body(_m("system", "chat-api"), hours=24)
        assert client.post("/api/v2/silences", json=body, headers=admin).status_code == 200
        leak = {
            "source": "dlp",
            "type": "data_leak",
            "title": "SSNs in replies",
            "systems": ["chat-api"],
            "severity": "critical",
            "dedup_key": "ssn-1",
        }
        result = client.post("/api/v1/alerts", json=leak, headers=admin).json()["results"][0]
        assert result["action"] == "silenced" and result["incident_id"] is None
        assert "security is told" in result["reason"]
        rt.leak_teller.wait()
        hooks = http_peer.at("/hook")
        assert hooks and "SSNs in replies" in str(hooks[0].json())
        assert any("security@example.com" in str(m) for m in mail_peer.mails)
        assert not http_peer.at("/slack/T000/B000/XXXX")  # the team's channel stays quiet
        audit = client.get("/api/v1/audit", headers=admin).json()["items"]
        kinds = [e["kind"] for e in audit]
        assert kinds[:2] == ["data_leak_silenced_reported", "data_leak_silenced"]
        assert audit[0]["data"]["sent"] and not audit[0]["data"]["failed"]
        toxic = {**leak, "type": "toxicity", "dedup_key": "tox-1", "title": "rude"}
        sent_before = len(http_peer.requests)
        assert (
            client.post("/api/v1/alerts", json=toxic, headers=admin).json()["results"][0]["action"]
            == "silenced"
        )
        rt.leak_teller.wait()
        assert len(http_peer.requests) == sent_before
