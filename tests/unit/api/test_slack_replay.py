"""A Slack callback sent again within its five minutes is refused (issue 25), on both
databases, whichever replica it reaches."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from defib.api import create_app
from defib.bootstrap import Runtime
from tests.unit.api.test_no_500 import SECRET, _signed


def test_a_replayed_slack_callback_is_refused(
    make_runtime: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery is taken; the same bytes again are 409, also on another replica."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    first: Runtime = make_runtime()  # type: ignore[operator]
    second: Runtime = make_runtime()  # type: ignore[operator]
    press = _signed({"type": "block_actions", "actions": [{"action_id": "x", "value": "y"}]})
    with TestClient(create_app(first)) as a, TestClient(create_app(second)) as b:
        assert a.post("/integrations/slack/actions", **press).status_code == 200
        again = a.post("/integrations/slack/actions", **press)
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
        assert b.post("/integrations/slack/actions", **press).status_code == 409
