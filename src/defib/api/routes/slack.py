"""Slack's interactive callbacks: the Acknowledge, Approve and Reject buttons defib posts.

Slack signs every callback; slack-sdk's SignatureVerifier checks the signature and that
the timestamp is recent (replays are refused), so the route needs no API token. The Slack
user must be mapped to a defib actor in `slack.users`; the act lands on the timeline under
that actor, and the message is updated through the callback's `response_url`.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, BackgroundTasks, Request, Response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from defib.api.deps import RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.api.jsonguard import nul_path
from defib.auth import Permission, Principal, Role
from defib.bootstrap import Runtime
from defib.config import SlackUser
from defib.integrations.slack import ACKNOWLEDGE, APPROVE, REJECT, settled
from defib.integrations.tls import verify_context
from defib.model import Command, DomainError, NotFound
from defib.store import alerts as alert_repo

router = APIRouter(tags=["integrations"])
log = logging.getLogger(__name__)


@router.post(
    "/integrations/slack/actions",
    response_class=Response,
    responses={
        200: {"description": "taken (the message is updated through response_url)"},
        **error_responses(
            400,
            401,
            404,
            409,
            base=(),
            non_json_route=True,
            d400="a malformed payload",
            d401="bad or stale Slack signature",
            d409="a replay of a callback already taken",
            d404="Slack's signing secret is not configured",
        ),
    },
)
async def slack_actions(
    request: Request, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    """A button press in a defib message (Slack's block_actions callback)."""
    secret_env = runtime.settings.slack.signing_secret_env
    secret = runtime.secrets.get(secret_env)
    if not secret:
        raise ApiError(404, "not_found", f"Slack is not configured: ${secret_env} is not set")
    body = await request.body()
    verifier = SignatureVerifier(secret)
    if not verifier.is_valid(
        body,
        request.headers.get("X-Slack-Request-Timestamp"),
        request.headers.get("X-Slack-Signature"),
    ):
        raise ApiError(401, "unauthorized", "bad or stale Slack signature")
    signature = str(request.headers.get("X-Slack-Signature"))
    if not await run_in_threadpool(_first_time, runtime, signature):
        # A captured callback sent again within the five minutes the timestamp allows.
        raise ApiError(409, "conflict", "this Slack callback was already taken (a replay)")
    payload = _payload(body)
    if payload.get("type") != "block_actions" or not payload.get("actions"):
        return Response(status_code=200)
    action, slack_user = _button(payload)
    user = runtime.settings.slack.user(slack_user)
    if user is None:
        outcome = f"Slack user {slack_user} is not mapped to a defib actor (slack.users)"
        reply: dict[str, Any] = {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": outcome,
        }
    else:
        outcome = await run_in_threadpool(_act, runtime, user, action)
        message = payload.get("message")
        reply = settled(message if isinstance(message, dict) else {}, outcome)
    response_url = payload.get("response_url")
    if isinstance(response_url, str) and response_url.startswith(("https://", "http://")):
        background.add_task(_update, response_url, reply, runtime)
    return Response(status_code=200)


def _first_time(runtime: Runtime, signature: str) -> bool:
    """Claim the callback's signature in the database, so every replica refuses a replay.

    The signature covers the timestamp and the body, so Slack's own two presses of a button
    differ; only a byte-for-byte resend (a replay) is claimed twice."""
    with runtime.db.write() as conn:
        return bool(alert_repo.claim_deliveries(conn, [("slack", signature)], runtime.now()))


def _payload(body: bytes) -> dict[str, Any]:
    try:
        raw = parse_qs(body.decode(), strict_parsing=True)["payload"][0]
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError, KeyError) as exc:
        raise ApiError(400, "bad_request", "expected Slack's form field `payload`") from exc
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", "payload: not a JSON object")
    where = nul_path(payload, "payload")
    if where is not None:
        raise ApiError(400, "bad_request", f"{where}: contains a NUL character")
    return payload


def _button(payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The pressed button and the Slack user id; 400 for any other shape (a correctly
    signed but malformed payload answered 500 before, issue 25)."""
    actions = payload.get("actions")
    user = payload.get("user", {})
    if not isinstance(actions, list) or not isinstance(actions[0], dict):
        raise ApiError(400, "bad_request", "payload.actions: expected a list of objects")
    if not isinstance(user, dict):
        raise ApiError(400, "bad_request", "payload.user: expected an object")
    action = actions[0]
    for key in ("action_id", "value"):
        if not isinstance(action.get(key, ""), str) or len(action.get(key, "")) > 2000:
            raise ApiError(400, "bad_request", f"payload.actions[0].{key}: expected a string")
    return action, str(user.get("id", ""))[:200]


def _act(runtime: Runtime, user: SlackUser, action: dict[str, Any]) -> str:
    """Do what the button says as the mapped actor; say what happened (for the message)."""
    who = Principal(user.actor, Role(user.role))
    action_id = str(action.get("action_id", ""))
    value = str(action.get("value", ""))
    try:
        if action_id == ACKNOWLEDGE:
            if not who.can(Permission.RESPOND):
                return f"{user.actor} ({user.role}) may not acknowledge {value}"
            runtime.incidents.apply(value, Command.ACKNOWLEDGE, user.actor, note="from Slack")
            return f"{value} acknowledged by {user.actor}"
        if action_id in (APPROVE, REJECT):
            run_id, _, index = value.rpartition(":")
            if not (index.isascii() and index.isdigit() and len(index) <= 6):
                return f"Not done: {value!r} names no step"
            approve = action_id == APPROVE
            runtime.engine.decide(
                run_id,
                int(index),
                approve=approve,
                actor=user.actor,
                role=user.role,
                note="from Slack",
            )
            step = runtime.engine.get_run(run_id).steps[int(index)].name
            return f"Step {step} {'approved' if approve else 'rejected'} by {user.actor}"
    except PermissionError as exc:
        return f"{user.actor}: {exc}"
    except (DomainError, NotFound, ValueError, IndexError) as exc:
        return f"Not done: {exc}"
    return f"Unknown action {action_id!r}"


async def _update(url: str, reply: dict[str, Any], runtime: Runtime) -> None:
    timeout = runtime.settings.notifications.timeout_seconds
    try:
        async with httpx.AsyncClient(timeout=timeout, verify=verify_context()) as client:
            (await client.post(url, json=reply)).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("updating the Slack message failed: %s", exc)
