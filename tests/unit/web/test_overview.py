"""Approvals, systems and alerts pages, and GET /api/v1/approvals (TestClient, both backends)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role
from defib.bootstrap import Runtime
from defib.incidents.lifecycle import IncidentDraft
from defib.model import IncidentType, Severity
from defib.playbooks.engine.ledger import StepRef
from defib.systems.control import ControlService
from tests.support.web import SignIn, csrf_of


def _waiting_step(runtime: Runtime) -> tuple[str, str]:
    """A toxicity incident whose review step waits for approval (marked as the engine does)."""
    incident = runtime.incidents.declare(
        IncidentDraft(
            type=IncidentType.TOXICITY,
            severity=Severity.SEV2,
            title="Toxic",
            affected_systems=["a"],
        ),
        actor="test",
    )
    run = runtime.engine.list_runs(incident.id)[0]
    index = next(s.index for s in run.steps if s.name == "review_guardrails")
    ref = StepRef(run.id, 0, index, "review_guardrails", run.incident_seq)
    runtime.engine.ledger.waiting(ref, "responder", 3600, "sign off")
    return incident.id, run.id


def test_api_lists_waiting_steps(
    client: TestClient, runtime: Runtime, tokens: dict[Role, str]
) -> None:
    iid, run_id = _waiting_step(runtime)
    response = client.get(
        "/api/v1/approvals", headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert (item["incident_id"], item["run_id"], item["step"]) == (iid, run_id, "review_guardrails")
    assert item["role"] == "responder" and item["asks"] == "sign off"
    assert item["deadline_at"] is not None
    paged = client.get(
        "/api/v1/approvals",
        params={"limit": 1, "cursor": "bm9wZQ"},
        headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"},
    )
    assert paged.status_code == 422


def test_approvals_page_offers_decisions_by_role(sign_in: SignIn, runtime: Runtime) -> None:
    iid, run_id = _waiting_step(runtime)
    client = sign_in(Role.VIEWER)
    page = client.get("/approvals")
    assert iid in page.text and "sign off" in page.text
    assert "Your role may not decide" in page.text and ">Approve<" not in page.text
    refused = client.post(
        f"/runs/{run_id}/steps/2/decide", data={"csrf": csrf_of(page.text), "decision": "approve"}
    )
    assert refused.status_code == 403
    client = sign_in(Role.RESPONDER)
    assert ">Approve<" in client.get("/fragments/approvals").text


def test_alerts_page_shows_ignored_alerts_and_why(
    client: TestClient, sign_in: SignIn, tokens: dict[Role, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens[Role.INGEST]}"}
    beat = {"source": "prom", "title": "Watchdog", "labels": {"alertname": "Watchdog"}}
    assert client.post("/api/v1/alerts", json=beat, headers=auth).status_code == 202
    client.post(
        "/api/v1/alerts",
        json={"source": "g", "type": "bias", "title": "Skewed scores", "systems": ["m"]},
        headers=auth,
    )
    sign_in(Role.VIEWER)
    page = client.get("/alerts")
    assert page.status_code == 200
    assert "Watchdog" in page.text and "ignored" in page.text and "heartbeat" in page.text
    assert "Skewed scores" in page.text and 'href="/incidents/INC-1"' in page.text


@pytest.fixture
def systems_client(
    make_runtime: Callable[..., Runtime], tokens_for: Callable[[Runtime], dict[Role, str]]
) -> Iterator[tuple[TestClient, Runtime, dict[Role, str]]]:
    runtime = make_runtime(
        systems=[
            {
                "name": "chat-api",
                "versions": [
                    {"name": "v1", "upstream": "http://127.0.0.1:9/v1"},
                    {"name": "v2", "upstream": "http://127.0.0.1:9/v1"},
                ],
                "active_version": "v2",
            }
        ]
    )
    with TestClient(create_app(runtime), follow_redirects=False) as c:
        yield c, runtime, tokens_for(runtime)


def _sign(client: TestClient, token: str) -> str:
    form = client.get("/login")
    client.post("/login", data={"token": token, "csrf": csrf_of(form.text)})
    return csrf_of(client.get("/systems").text)


def test_system_controls_confirm_then_act_and_refuse_viewers(
    systems_client: tuple[TestClient, Runtime, dict[Role, str]],
) -> None:
    client, runtime, tokens = systems_client
    csrf = _sign(client, tokens[Role.VIEWER])
    assert "chat-api" in client.get("/systems").text
    assert client.get("/systems/chat-api/confirm?action=disable").status_code == 403
    refused = client.post("/systems/chat-api/control", data={"csrf": csrf, "action": "disable"})
    assert refused.status_code == 403

    csrf = _sign(client, tokens[Role.RESPONDER])
    page = client.get("/systems")
    assert 'href="/systems/chat-api/confirm?action=disable"' in page.text
    confirm = client.get("/systems/chat-api/confirm?action=disable")
    assert "Confirm disable" in confirm.text
    done = client.post(
        "/systems/chat-api/control", data={"csrf": csrf, "action": "disable", "reason": "leak"}
    )
    assert done.status_code == 303
    state = ControlService(runtime.db).state("chat-api")
    assert state is not None and state.disabled and state.disabled_reason == "leak"
    client.post(
        "/systems/chat-api/control", data={"csrf": csrf, "action": "route", "version": "v1"}
    )
    client.post("/systems/chat-api/control", data={"csrf": csrf, "action": "enable"})
    state = ControlService(runtime.db).state("chat-api")
    assert state is not None and not state.disabled and state.active_version == "v1"
    bad = client.post(
        "/systems/chat-api/control", data={"csrf": csrf, "action": "route", "version": "v9"}
    )
    assert "is not a version of chat-api" in client.get(bad.headers["location"]).text


def test_cli_lists_approvals(
    client: TestClient,
    runtime: Runtime,
    tokens: dict[Role, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer
    from typer.testing import CliRunner

    from defib.cli import runs
    from defib.cli.client import ApiClient
    from defib.config import load_settings

    iid, run_id = _waiting_step(runtime)
    settings = load_settings(None, url="http://testserver", token=tokens[Role.VIEWER])

    def in_process(_config: object) -> ApiClient:
        # The CLI's own client, its HTTP calls going to the app in-process.
        api = ApiClient(settings)
        client.headers["Authorization"] = f"Bearer {tokens[Role.VIEWER]}"
        api._client = client
        return api

    monkeypatch.setattr(runs, "_client", in_process)
    app = typer.Typer()
    app.command()(runs.approvals)
    result = CliRunner().invoke(app, ["--json"])
    assert result.exit_code == 0, result.output
    assert f'"run_id": "{run_id}"' in result.stdout and iid in result.stdout
    table = CliRunner().invoke(app, [])
    assert "review_guardrails" in table.stdout and "approve" in table.stdout
