"""The example plugin step in docs/examples works as docs/actions.md says: it is an
action, registers by name, sends one ticket per idempotency key and tells its story."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx

from defib.actions.base import Action, ActionContext, Outcome
from defib.actions.registry import ActionRegistry
from defib.incidents.story import tell

EXAMPLE = (
    (Path(__file__).parents[2] / "test_action_plugin.py").resolve().parents[1]
    / "docs"
    / "examples"
    / "ticket_step.py"
)


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ticket_step", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Tracker:
    """A tracker that honours Idempotency-Key: one ticket per key."""

    def __init__(self) -> None:
        self.tickets: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        self.tickets.setdefault(
            key, {"id": f"AI-{len(self.tickets) + 1}", **json.loads(request.content)}
        )
        return httpx.Response(201, json={"id": self.tickets[key]["id"]})


def _ctx(
    tracker: Tracker, events: list[tuple[str, Mapping[str, Any], str]], **params: Any
) -> ActionContext:
    async def timeline(kind: str, data: Mapping[str, Any], key: str) -> None:
        if all(k != key for _, _, k in events):  # exactly once per key, as the engine does
            events.append((kind, data, key))

    env = SimpleNamespace(
        http_client=lambda: httpx.AsyncClient(transport=httpx.MockTransport(tracker))
    )
    return ActionContext(
        run_id="r1",
        step_index=2,
        step_name="open_ticket",
        generation=0,
        attempt=1,
        idempotency_key="r1:2",
        incident={
            "id": "INC-4",
            "title": "Toxic replies",
            "severity": "SEV2",
            "affected_systems": ["chat-api"],
        },
        params=params,
        timeout_seconds=30,
        timeline=timeline,
        env=env,  # type: ignore[arg-type]
    )


def test_the_example_step_is_an_action_that_registers_by_name() -> None:
    step = _module().OpenTicket()
    assert isinstance(step, Action)
    registry = ActionRegistry([step])
    assert "open_ticket" in registry and registry.get("open_ticket") is step


def test_a_repeated_step_opens_one_ticket_and_says_so_on_the_timeline() -> None:
    step, tracker = _module().OpenTicket(), Tracker()
    events: list[tuple[str, Mapping[str, Any], str]] = []
    ctx = _ctx(tracker, events, url="https://tracker.example/api/tickets", queue="AI")
    first = asyncio.run(step.run(ctx))
    again = asyncio.run(step.run(ctx))  # a crash mid-step: the engine runs it again
    assert first.detail == again.detail == {"ticket": "AI-1"}
    assert list(tracker.tickets) == ["r1:2"] and tracker.tickets["r1:2"]["systems"] == ["chat-api"]
    assert len(events) == 1
    [line] = tell(
        [
            {
                "at": "2026-12-07T03:00:00Z",
                "actor": "run:r1",
                "kind": events[0][0],
                "data": events[0][1],
            }
        ]
    )
    assert (
        line.text == "Ticket opened: step open_ticket; target https://tracker.example/api/tickets"
    )


def test_without_a_url_the_step_skips_with_a_reason() -> None:
    result = asyncio.run(_module().OpenTicket().run(_ctx(Tracker(), [])))
    assert result.outcome is Outcome.SKIPPED and "params.url" in (result.reason or "")
