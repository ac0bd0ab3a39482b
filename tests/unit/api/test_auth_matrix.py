"""Every route x every role x no token: allowed callers pass auth, others get 401/403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.auth import Role
from defib.bootstrap import Runtime

NATIVE_ALERT = {
    "type": "toxicity",
    "title": "Toxic replies",
    "description": "x",
    "systems": ["chat-api"],
    "severity": "high",
    "dedup_key": "k",
}
DECLARE = {"type": "bias", "severity": "SEV3", "title": "t"}
# Narrow and short enough for a responder (issue 25: broader or longer ones need an admin).
SILENCE = {
    "matchers": [
        {"name": "system", "value": "chat-api", "isRegex": False},
        {"name": "type", "value": "performance", "isRegex": False},
    ],
    "startsAt": "2020-01-01T00:00:00Z",
    "endsAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    "createdBy": "t",
    "comment": "c",
}

ALERTS = {Role.INGEST, Role.RESPONDER, Role.ADMIN}
READ = {Role.VIEWER, Role.RESPONDER, Role.ADMIN}
RESPOND = {Role.RESPONDER, Role.ADMIN}
PUBLIC = set(Role) | {None}

# (method, path template, body, roles allowed; None means "no token")
MATRIX: list[tuple[str, str, object, set[Role | None]]] = [
    ("GET", "/healthz", None, PUBLIC),
    ("GET", "/readyz", None, PUBLIC),
    ("POST", "/api/v1/alerts", NATIVE_ALERT, ALERTS),
    ("POST", "/api/v1/alerts/{fmt}", NATIVE_ALERT, ALERTS),
    ("POST", "/api/v2/alerts", [{"labels": {"alertname": "X"}}], ALERTS),
    ("POST", "/v1/traces", {}, ALERTS),
    ("POST", "/v1/logs", {}, ALERTS),
    ("POST", "/api/v1/signals/litellm", {"text": "Daily Report"}, ALERTS),
    ("POST", "/api/v1/signals/litellm/alerts", {"text": "Daily Report"}, ALERTS),
    ("GET", "/api/v2/silences", None, READ),
    ("POST", "/api/v2/silences", SILENCE, RESPOND),
    ("GET", "/api/v2/silence/{silence_id}", None, READ),
    ("DELETE", "/api/v2/silence/{silence_id}", None, RESPOND),
    ("GET", "/api/v2/status", None, READ),
    # Authenticated by Slack's request signature, not a token (tests/silences/test_slack.py);
    # without a configured signing secret it is 404 for everyone.
    ("POST", "/integrations/slack/actions", None, PUBLIC),
    # Authenticated by PagerDuty's X-PagerDuty-Signature (tests/oncall); without a configured
    # webhook secret it is 404 for everyone.
    ("POST", "/api/v1/integrations/pagerduty/webhook", None, PUBLIC),
    ("GET", "/api/v2/alerts", None, READ),
    ("POST", "/api/v1/incidents", DECLARE, RESPOND),
    ("GET", "/api/v1/incidents", None, READ),
    ("GET", "/api/v1/incidents/{incident_id}", None, READ),
    ("PATCH", "/api/v1/incidents/{incident_id}", {"commander": "c"}, RESPOND),
    ("POST", "/api/v1/incidents/{incident_id}/acknowledge", None, RESPOND),
    ("POST", "/api/v1/incidents/{incident_id}/mitigate", None, RESPOND),
    ("POST", "/api/v1/incidents/{incident_id}/resolve", None, RESPOND),
    ("POST", "/api/v1/incidents/{incident_id}/close", None, RESPOND),
    ("POST", "/api/v1/incidents/{incident_id}/reopen", None, RESPOND),
    ("POST", "/api/v1/incidents/{incident_id}/notes", {"text": "n"}, RESPOND),
    (
        "POST",
        "/api/v1/incidents/{incident_id}/retype",
        {"type": "bias", "reason": "r"},
        RESPOND,
    ),
    ("GET", "/api/v1/incidents/{incident_id}/timeline", None, READ),
    ("GET", "/api/v1/incidents/{incident_id}/alerts", None, READ),
    ("GET", "/api/v1/incidents/{incident_id}/runs", None, READ),
    ("POST", "/api/v1/incidents/{incident_id}/runs", {"dry_run": True}, RESPOND),
    ("GET", "/api/v1/runs", None, READ),
    ("GET", "/api/v1/runs/{run_id}", None, READ),
    ("POST", "/api/v1/runs/{run_id}/cancel", None, RESPOND),
    ("POST", "/api/v1/runs/{run_id}/steps/{step}/retry", None, RESPOND),
    # Any reader may try; the step's own approval role is checked next (403 if short).
    ("POST", "/api/v1/runs/{run_id}/steps/{step}/approve", {"note": "n"}, READ),
    ("POST", "/api/v1/runs/{run_id}/steps/{step}/reject", {"note": "n"}, READ),
    ("GET", "/api/v1/approvals", None, READ),
    ("GET", "/api/v1/incidents/{incident_id}/evidence", None, READ),
    ("GET", "/api/v1/incidents/{incident_id}/evidence/verify", None, READ),
    # Redacted for readers; `?raw=true` is admin only (tests/actions/test_evidence.py).
    ("GET", "/api/v1/incidents/{incident_id}/evidence/{n}", None, READ),
    ("GET", "/api/v1/systems", None, READ),
    ("GET", "/api/v1/systems/{name}", None, READ),
    ("PUT", "/api/v1/systems/{name}/state", {"disabled": True}, RESPOND),
    ("POST", "/api/v1/systems/{name}/versions/{version}", {"status": "good"}, RESPOND),
    ("GET", "/api/v1/tokens/me", None, set(Role)),
    ("GET", "/api/v1/audit", None, READ),
    ("GET", "/api/v1/tokens", None, {Role.ADMIN}),
    ("POST", "/api/v1/tokens", {"name": "matrix-new", "role": "viewer"}, {Role.ADMIN}),
    ("DELETE", "/api/v1/tokens/{name}", None, {Role.ADMIN}),
    ("GET", "/api/v1/incidents/{incident_id}/taxonomy", None, READ),
    ("PUT", "/api/v1/incidents/{incident_id}/taxonomy", {"owasp_llm": ["LLM09"]}, RESPOND),
    ("GET", "/api/v1/incidents/{incident_id}/review", None, READ),
    ("PATCH", "/api/v1/incidents/{incident_id}/review", {"lessons": ["l"]}, RESPOND),
    ("GET", "/api/v1/incidents/{incident_id}/postmortem", None, READ),
    ("GET", "/api/v1/reports/response", None, READ),
    ("GET", "/api/v1/oncall", None, READ),
    ("GET", "/api/v1/oncall/overrides", None, READ),
    (
        "POST",
        "/api/v1/oncall/overrides",
        {
            "schedule": "nope",
            "person": "nobody",
            "start": "2030-01-01T00:00:00Z",
            "end": "2030-01-02T00:00:00Z",
        },
        RESPOND,
    ),
    ("DELETE", "/api/v1/oncall/overrides/{override_id}", None, RESPOND),
    ("GET", "/api/v1/oncall/{schedule}/shifts", None, READ),
    ("GET", "/api/v1/oncall/{schedule}.ics", None, READ),
    # Open to anyone with `metrics: {public: true}` (tests/api/test_metrics.py).
    ("GET", "/metrics", None, READ),
]

CALLERS: list[Role | None] = [None, *Role]


def test_the_matrix_covers_every_route(runtime: Runtime) -> None:
    """A new route cannot ship without a row here."""
    paths = create_app(runtime).openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert served == {(m, p) for m, p, _, _ in MATRIX}


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.value if c else "no-token")
# Ids from the method and path only: a set's repr changes order between processes, and
# pytest-xdist needs every worker to collect the same ids.
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_route_allows_exactly_its_roles(
    client: TestClient,
    tokens: dict[Role, str],
    caller: Role | None,
    method: str,
    path: str,
    body: object,
    allowed: set[Role | None],
) -> None:
    declared = client.post(
        "/api/v1/incidents", json=DECLARE, headers={"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    )
    assert declared.status_code == 201
    url = path.format(
        incident_id=declared.json()["id"],
        fmt="native",
        run_id="r0",
        step="0",
        n="1",
        name="chat-api",
        version="v1",
        silence_id="00000000-0000-0000-0000-000000000000",
        override_id="00000000-0000-0000-0000-000000000000",
        schedule="nope",
    )
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller else {}
    response = client.request(method, url, json=body, headers=headers)
    if caller in allowed:
        assert response.status_code not in (401, 403), response.text
    elif caller is None:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"


def test_unknown_and_revoked_tokens_are_refused(
    client: TestClient, tokens: dict[Role, str], runtime: Runtime
) -> None:
    from defib.clock import utcnow
    from defib.store import tokens as repo

    bad = client.get("/api/v1/incidents", headers={"Authorization": "Bearer defib_nope"})
    assert bad.status_code == 401
    with runtime.db.write() as conn:
        repo.revoke_token(conn, "viewer-bot", utcnow())
    runtime.tokens.clear()
    revoked = client.get(
        "/api/v1/incidents", headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
    )
    assert revoked.status_code == 401


def test_no_auth_mode_lets_anyone_in(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, auth=False)) as c:
        assert c.get("/api/v1/incidents").status_code == 200
