"""LiteLLM proxy webhooks → model calls and native alerts (pure).

Three shapes arrive at one route, told apart by their fields:

- the generic API logger's `StandardLoggingPayload` (one object, a JSON array of them, or
  NDJSON lines; `status` `success` or `failure`) → `ModelCall`s for detection and SLOs;
- the alerting webhook's `WebhookEvent` (`event`, `event_group`: budget alerts) → a native
  alert;
- the Slack-shaped alert LiteLLM posts to `SLACK_WEBHOOK_URL` (`{"text": ...}`: hanging
  and slow calls, failed calls, outages, budget) → a native alert.

Which defib system a call belongs to: a request tag `defib-system:<name>`, else the
route's `system` parameter, else LiteLLM's model group (the name clients ask for).

Error tree: `LiteLLMError` (a body of none of these shapes: 422, naming the field).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from defib.signals.calls import ModelCall, as_int, messages_text, system_name

SOURCE = "litellm"
TAG = "defib-system:"

# Slack-shaped alert texts, first match wins: (pattern, incident type or None, title).
_ALERTS: tuple[tuple[re.Pattern[str], str | None, str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), kind, title)
    for p, kind, title in (
        (r"requests are hanging", "performance", "LiteLLM: requests are hanging"),
        (r"responses are slow", "performance", "LiteLLM: responses are slow"),
        (r"major service outage", "availability", "LiteLLM: major service outage"),
        (r"(minor )?service outage|region outage", "availability", "LiteLLM: service outage"),
        (
            r"llm (api call failed|exception)|calls are failing",
            "availability",
            "LiteLLM: calls failing",
        ),
        (r"db (read|write)", "availability", "LiteLLM: proxy database failing"),
        (r"budget", "performance", "LiteLLM: budget alert"),
    )
)
_LEVEL = re.compile(r"Level:\s*`?(Low|Medium|High)`?", re.IGNORECASE)
_MODEL = re.compile(r"(?:Request Model|Model):\s*`([^`]+)`", re.IGNORECASE)
_SEVERITY = {"low": "low", "medium": "warning", "high": "critical"}
# Budget events that are news, not trouble.
_QUIET_EVENTS = frozenset({"key_created", "internal_user_created", "spend_tracked"})


class LiteLLMError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.field = where


@dataclass(slots=True)
class Parsed:
    calls: list[ModelCall] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0


def loads(body: bytes) -> list[Any]:
    """The body's items: a JSON object, a JSON array, or NDJSON lines."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        lines = [line for line in body.splitlines() if line.strip()]
        try:
            return [orjson.loads(line) for line in lines] if len(lines) > 1 else _fail(body)
        except orjson.JSONDecodeError:
            return _fail(body)
    return value if isinstance(value, list) else [value]


def _fail(body: bytes) -> list[Any]:
    raise LiteLLMError("body", "not JSON, a JSON array, or NDJSON lines")


def parse(items: Sequence[Any], default_system: str | None = None) -> Parsed:
    """The calls and alerts in LiteLLM's webhook items."""
    out = Parsed()
    for i, item in enumerate(items):
        where = f"[{i}]" if len(items) > 1 else "body"
        if not isinstance(item, Mapping):
            raise LiteLLMError(where, "must be an object")
        if "event" in item and "event_group" in item:
            alert = budget_alert(item, default_system)
        elif isinstance(item.get("text"), str) and "call_type" not in item:
            alert = text_alert(item["text"], default_system)
        elif "call_type" in item or "status" in item:
            out.calls.append(call(item, default_system, where))
            continue
        else:
            raise LiteLLMError(
                where,
                "neither a StandardLoggingPayload (call_type, status), a WebhookEvent "
                "(event, event_group) nor an alert ({text})",
            )
        if alert is None:
            out.ignored += 1
        else:
            out.alerts.append(alert)
    return out


def _time(value: object, where: str, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LiteLLMError(f"{where}.{name}", "must be epoch seconds (a number)")
    return datetime.fromtimestamp(float(value), UTC)


def _map(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = item.get(key)
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _system(item: Mapping[str, Any], default: str | None) -> str:
    tags = item.get("request_tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and tag.startswith(TAG):
                return system_name(tag[len(TAG) :])
    return system_name(default, item.get("model_group"), item.get("model"))


def _output(response: object) -> str | None:
    if isinstance(response, str):
        return response or None
    if isinstance(response, Mapping):
        choices = response.get("choices")
        if isinstance(choices, list):
            return messages_text(choices, roles=False, default_role="assistant")
        return None
    return None


def _finish(response: object) -> tuple[str, ...]:
    if not isinstance(response, Mapping) or not isinstance(response.get("choices"), list):
        return ()
    return tuple(
        str(c["finish_reason"])
        for c in response["choices"]
        if isinstance(c, Mapping) and isinstance(c.get("finish_reason"), str)
    )


def short_key(hashed: object) -> str | None:
    """A short, stable id of a LiteLLM virtual key (from its hash, never the key)."""
    if not isinstance(hashed, str) or not hashed:
        return None
    return "k" + hashlib.sha256(hashed.encode()).hexdigest()[:11]


def call(item: Mapping[str, Any], default_system: str | None, where: str = "body") -> ModelCall:
    """One `StandardLoggingPayload` as a model call."""
    start = _time(item.get("startTime"), where, "startTime")
    end = _time(item.get("endTime"), where, "endTime")
    if start is None:
        raise LiteLLMError(f"{where}.startTime", "required field is missing")
    failed = item.get("status") == "failure"
    error = _map(item, "error_information")
    code = as_int(error.get("error_code"))
    metadata = _map(item, "metadata")
    response = item.get("response")
    trace_id, call_id = _str(item.get("trace_id")), _str(item.get("id"))
    return ModelCall(
        system=_system(item, default_system),
        at=start,
        duration_ms=max(0.0, ((end or start) - start).total_seconds() * 1000),
        trace_id=trace_id[:48] if trace_id else None,
        span_id=call_id[:48] if call_id else None,
        output=None if failed else _output(response),
        prompt=messages_text(item.get("messages"), roles=True),
        error=failed,
        status_code=code if failed and code is not None and 400 <= code < 600 else None,
        finish_reasons=_finish(response),
        input_tokens=as_int(item.get("prompt_tokens")),
        output_tokens=as_int(item.get("completion_tokens")),
        model=_str(item.get("model")),
        user=_str(item.get("end_user")) or _str(metadata.get("user_api_key_end_user_id")),
        client=short_key(metadata.get("user_api_key_hash")),
    )


def _alert(
    system: str | None, kind: str | None, title: str, text: str, severity: str, key: str
) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "title": f"{system}: {title}" if system else title,
        "description": text[:4000],
        "signal": f"litellm.alert.{key}",
        "systems": [system] if system else [],
        "severity": severity,
        **({"type": kind} if kind else {}),
        "dedup_key": f"litellm:{system or '-'}:{key}",
        "labels": {"litellm_alert": key},
    }


def text_alert(text: str, default_system: str | None) -> dict[str, Any] | None:
    """A Slack-shaped LiteLLM alert; None for reports and notices (no trouble in them)."""
    model = _MODEL.search(text)
    system = (
        system_name(default_system, model.group(1) if model else None)
        if (default_system or model)
        else None
    )
    level = _LEVEL.search(text)
    severity = _SEVERITY[level.group(1).lower()] if level else "warning"
    for pattern, kind, title in _ALERTS:
        if pattern.search(text):
            key = title.removeprefix("LiteLLM: ").replace(" ", "_")
            return _alert(system, kind, title, text, severity, key)
    return None  # daily and spend reports, new models: left to the people who read them


def budget_alert(item: Mapping[str, Any], default_system: str | None) -> dict[str, Any] | None:
    """A `WebhookEvent` (budget alerts); None for events that are only news."""
    event = str(item.get("event") or "")
    if event in _QUIET_EVENTS:
        return None
    group = str(item.get("event_group") or "")
    message = str(item.get("event_message") or event)
    spend, budget = item.get("spend"), item.get("max_budget")
    text = f"{message} (spend {spend}, budget {budget}, {group} {item.get('key_alias') or ''})"
    severity = "warning" if event == "budget_crossed" else "low"
    system = system_name(default_system) if default_system else None
    alert = _alert(system, "performance", f"LiteLLM: {message}", text.strip(), severity, event)
    alert["dedup_key"] += f":{group}:{item.get('token') or item.get('team_id') or ''}"
    alert["labels"].update({"event_group": group})
    return alert
