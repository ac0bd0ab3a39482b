"""Slack's buttons: signed callbacks built exactly as Slack builds them, a real worker, and a
loopback receiver standing in for Slack's webhook and response_url."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from defib.api import create_app
from defib.bootstrap import Runtime
from defib.model import IncidentType, Status
from defib.playbooks.runs import RunStatus
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer, Request
from tests.support.engine import declare, only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_HOOK = "/slack/T000/B000/XXXX"


def signed(payload: dict[str, Any], *, secret: str = SECRET, age: int = 0) -> dict[str, Any]:
    """A block_actions callback as Slack sends it: a form body, timestamp and v0 signature."""
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    }


def press(
    user: str, button: dict[str, Any], message: dict[str, Any], respond: str
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "actions": [
            {
                "action_id": button["action_id"],
                "value": button["value"],
                "type": "button",
                "block_id": "b",
            }
        ],
        "message": message,
        "response_url": respond,
    }


def button(message: dict[str, Any], text: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for element in block.get("elements", ()):
            if element.get("text", {}).get("text") == text:
                found: dict[str, Any] = element
                return found
    raise AssertionError(f"no {text!r} button in {message}")


def wait_for(peer: HttpPeer, path: str, count: int = 1) -> list[Request]:
    deadline = time.monotonic() + 20
    while len(peer.at(path)) < count:
        assert time.monotonic() < deadline, f"nothing posted to {path}: {peer.requests}"
        time.sleep(0.05)
    return peer.at(path)


def test_acknowledge_and_approve_from_slack(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    playbook_dir: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """notify_team's message carries Acknowledge; a waiting step's message Approve/Reject;
    pressing them as a mapped user acts under that user's defib name and updates the message."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")
    playbook_dir(
        """
        name: gated
        applies_to: [toxicity]
        steps:
          - {name: tell, action: notify_team, params: {channels: [slack]}}
          - name: filter
            action: note
            params: {text: "filters updated"}
            approval: {required: true, role: responder, timeout_seconds: 60}
        """
    )
    config = systems_config(http_peer, None)
    config["slack"] = {"users": {"U1": "alice", "U2": {"actor": "bob", "role": "viewer"}}}
    config["public_url"] = "https://defib.example.org/"
    rt = make_runtime(**config)
    start_worker(rt)
    inc = declare(rt, IncidentType.TOXICITY, systems=("chat-api",), title="Toxic replies")
    run_id = only_run(rt, inc).id
    notice = wait_for(http_peer, SLACK_HOOK)[0].json()
    assert button(notice, f"Open {inc}")["url"] == f"https://defib.example.org/incidents/{inc}"
    ack = button(notice, "Acknowledge")
    respond = f"{http_peer.url}/respond"

    with TestClient(create_app(rt)) as client:
        url = "/integrations/slack/actions"
        forged = client.post(url, **signed(press("U1", ack, notice, respond), secret="wrong"))
        assert forged.status_code == 401
        stale = client.post(url, **signed(press("U1", ack, notice, respond), age=600))
        assert stale.status_code == 401
        viewer = client.post(url, **signed(press("U2", ack, notice, respond)))
        assert viewer.status_code == 200
        stranger = client.post(url, **signed(press("U9", ack, notice, respond)))
        assert stranger.status_code == 200
        assert rt.incidents.get(inc).status is Status.DETECTED
        replies = [r.json() for r in http_peer.at("/respond")]
        assert "may not acknowledge" in replies[0]["text"]
        assert replies[1]["response_type"] == "ephemeral" and "U9" in replies[1]["text"]

        assert client.post(url, **signed(press("U1", ack, notice, respond))).status_code == 200
        assert rt.incidents.get(inc).status is Status.ACKNOWLEDGED
        acked = [e for e in rt.incidents.timeline(inc) if e.kind == "transition"]
        assert [(e.actor, e.data.get("note")) for e in acked] == [("alice", "from Slack")]
        updated = http_peer.at("/respond")[-1].json()
        assert updated["replace_original"] is True
        assert updated["text"] == f"{inc} acknowledged by alice"
        assert all(b["type"] != "actions" for b in updated["blocks"])  # no buttons left

        wait_run(rt, run_id, lambda r: r.steps[1].status is RunStatus.WAITING_APPROVAL)
        ask = wait_for(http_peer, SLACK_HOOK, 2)[1].json()
        approve = button(ask, "Approve")
        assert button(ask, "Reject")["value"] == approve["value"] == f"{run_id}:1"
        pressed = client.post(url, **signed(press("U1", approve, ask, respond)))
        assert pressed.status_code == 200
        run = wait_run(rt, run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert run.steps[1].approval is not None and run.steps[1].approval["by"] == "alice"
    assert http_peer.at("/respond")[-1].json()["text"] == "Step filter approved by alice"
    kinds = [e.kind for e in rt.incidents.timeline(inc)]
    assert "slack_approval_requested" in kinds
