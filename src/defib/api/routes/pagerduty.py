"""PagerDuty's signed v3 webhooks: `incident.acknowledged` and `incident.resolved` act on
the defib incident PagerDuty was paged for (its `incident_key`), actor on the timeline.

No API token: the signature is the credential. A bad or missing signature, or an event
older than 5 minutes, is refused (401) and changes nothing; an event id already applied
is answered 200 without acting again (PagerDuty retries deliveries).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from defib.api.deps import RuntimeDep
from defib.api.errors import ApiError, error_responses
from defib.integrations.pagerduty_webhooks import (
    SIGNATURE_HEADER,
    parse_event,
    signature_valid,
    too_old,
)

router = APIRouter(tags=["integrations"])
log = logging.getLogger(__name__)


class WebhookOut(BaseModel):
    outcome: str
    incident: str | None = None
    reason: str | None = None


@router.post(
    "/integrations/pagerduty/webhook",
    response_model=WebhookOut,
    responses=error_responses(
        401,
        404,
        base=(422,),
        d401="bad, missing or stale PagerDuty signature",
        d404="PagerDuty webhooks are not configured",
    ),
)
async def pagerduty_webhook(request: Request, runtime: RuntimeDep) -> WebhookOut:
    """A PagerDuty v3 webhook delivery."""
    env = runtime.settings.notifications.pagerduty.webhook_secret_env
    secret = runtime.secrets.get(env) if env else None
    if not secret:
        where = f"${env} is not set" if env else "notifications.pagerduty.webhook_secret_env"
        raise ApiError(404, "not_found", f"PagerDuty webhooks are not configured ({where})")
    body = await request.body()
    if not signature_valid(body, request.headers.get(SIGNATURE_HEADER), secret):
        raise ApiError(401, "unauthorized", f"{SIGNATURE_HEADER} does not match the body")
    event = parse_event(body)
    if too_old(event, runtime.oncall.clock()):
        raise ApiError(401, "unauthorized", "event.occurred_at is outside the 5-minute window")
    applied = await run_in_threadpool(runtime.pagerduty_inbound.apply, event)
    log.info("PagerDuty %s %s: %s", event.event_type, event.id, applied.outcome)
    return WebhookOut(outcome=applied.outcome, incident=applied.incident, reason=applied.reason)
