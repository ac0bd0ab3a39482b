"""Built-in actions: `webhook`, `wait` and `note` (the seed actions live in their own modules)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from defib.actions.base import ActionContext, ActionError, ActionResult
from defib.actions.templating import render_text, render_value
from defib.events import TimelineKind
from defib.integrations.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signature_headers
from defib.integrations.tls import verify_context

__all__ = ["IDEMPOTENCY_HEADER", "SIGNATURE_HEADER", "signature_headers"]


def _param_str(ctx: ActionContext, key: str, *, required: bool = True) -> str | None:
    value = ctx.params.get(key)
    if value is None:
        if required:
            raise ActionError(f"params.{key}: required")
        return None
    if not isinstance(value, str):
        raise ActionError(f"params.{key}: must be a string")
    return value


class WebhookAction:
    """POST a JSON body (templated with incident fields), signed, with an Idempotency-Key.

    params: `url`, `body` (a JSON value whose strings are templates, or one template string
    that renders to JSON), `secret` or `secret_env` (the name of an environment variable),
    `headers` (optional).
    """

    name = "webhook"

    def _request(self, ctx: ActionContext) -> tuple[str, bytes, dict[str, str]]:
        url = render_text(_param_str(ctx, "url") or "", ctx.incident)
        if not url.startswith(("http://", "https://")):
            raise ActionError(f"params.url: must be an http(s) URL (got {url[:80]!r})")
        raw_body = ctx.params.get("body", {"incident": "{{ incident.id }}"})
        if isinstance(raw_body, str):
            text = render_text(raw_body, ctx.incident)
            try:
                body_value: Any = json.loads(text)
            except ValueError as exc:
                raise ActionError(f"params.body: does not render to JSON ({exc})") from exc
        else:
            body_value = render_value(raw_body, ctx.incident)
        body = json.dumps(body_value, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "defib-webhook",
            IDEMPOTENCY_HEADER: ctx.idempotency_key,
        }
        extra = ctx.params.get("headers") or {}
        if not isinstance(extra, dict):
            raise ActionError("params.headers: must be a mapping")
        headers.update({str(k): str(render_value(v, ctx.incident)) for k, v in extra.items()})
        secret = _param_str(ctx, "secret", required=False)
        env_name = _param_str(ctx, "secret_env", required=False)
        if secret is None and env_name is not None:
            secret = ctx.env.secret(env_name)
            if secret is None:
                raise ActionError(f"params.secret_env: ${env_name} is not set")
        if secret is not None:
            headers.update(signature_headers(body, secret, ctx.idempotency_key))
        return url, body, headers

    async def run(self, ctx: ActionContext) -> ActionResult:
        url, body, headers = self._request(ctx)
        async with httpx.AsyncClient(
            timeout=ctx.timeout_seconds, verify=verify_context()
        ) as client:
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise ActionError(f"POST {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise ActionError(f"POST {url}: HTTP {response.status_code}")
        return ActionResult(detail={"url": url, "status_code": response.status_code})

    def describe(self, ctx: ActionContext) -> str:
        url, body, headers = self._request(ctx)
        signed = " signed" if SIGNATURE_HEADER in headers else ""
        return f"POST {url} ({len(body)} bytes{signed}, Idempotency-Key {ctx.idempotency_key})"


class WaitAction:
    """Sleep durably (a cooling period): params `seconds`. The deadline survives restarts."""

    name = "wait"

    def sleep_seconds(self, ctx: ActionContext) -> float:
        seconds = ctx.params.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ActionError("params.seconds: must be a number >= 0")
        return float(seconds)

    def describe(self, ctx: ActionContext) -> str:
        return f"wait {self.sleep_seconds(ctx):g}s"


class NoteAction:
    """Write a note on the incident's timeline: params `text` (templated)."""

    name = "note"

    def _text(self, ctx: ActionContext) -> str:
        return render_text(_param_str(ctx, "text") or "", ctx.incident)

    async def run(self, ctx: ActionContext) -> ActionResult:
        text = self._text(ctx)
        await ctx.record(TimelineKind.NOTE, {"text": text, "step": ctx.step_name})
        return ActionResult(detail={"text": text})

    def describe(self, ctx: ActionContext) -> str:
        return f"note on the timeline: {self._text(ctx)!r}"
