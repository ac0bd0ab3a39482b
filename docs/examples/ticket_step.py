"""An example playbook step for defib: open a ticket in your tracker, once.

Install it as a plugin: put this module in a package whose pyproject.toml names it in the
`defib.actions` entry-point group,

    [project.entry-points."defib.actions"]
    open_ticket = "ticket_step:OpenTicket"

`pip install` that package next to defib, and a playbook step can say `action: open_ticket`
with `params: {url: https://tracker.example/api/tickets, queue: AI}`. docs/actions.md
("Write your own step") walks through it; tests/unit/actions/test_action_plugin.py runs it.
"""

from __future__ import annotations

from typing import Any

from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome

# The timeline event the step writes; the console, `defib timeline` and the postmortem
# tell an unknown kind as its words and main fields ("Ticket opened: target ...").
OPENED = "run_step_ticket_opened"


class OpenTicket:
    """`open_ticket`: POST the incident to a tracker, with the step's idempotency key."""

    name = "open_ticket"

    async def run(self, ctx: ActionContext) -> ActionResult:
        url = ctx.params.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            # A skip with a reason: the run needs a person's attention, nothing retries.
            return ActionResult(Outcome.SKIPPED, reason="open_ticket: params.url is not set")
        incident = ctx.incident
        body: dict[str, Any] = {
            "queue": ctx.params.get("queue", "AI"),
            "title": f"{incident['id']} {incident['title']}",
            "severity": incident["severity"],
            "systems": list(incident.get("affected_systems") or []),
        }
        # The step may run again after a crash: the tracker sees the same key and must
        # answer with the ticket it already made (most trackers honour Idempotency-Key).
        headers = {"Idempotency-Key": ctx.idempotency_key}
        async with ctx.env.http_client() as client:
            response = await client.post(url, json=body, headers=headers)
        if response.status_code >= 500:
            raise ActionError(f"tracker answered {response.status_code}: retry")
        if response.status_code >= 400:
            return ActionResult(
                Outcome.SKIPPED,
                reason=f"open_ticket: the tracker refused ({response.status_code})",
            )
        ticket = str(response.json().get("id", ""))
        await ctx.record(OPENED, {"step": ctx.step_name, "target": url, "ticket": ticket})
        return ActionResult(detail={"ticket": ticket})

    def describe(self, ctx: ActionContext) -> str:
        return f"open_ticket: would open a ticket at {ctx.params.get('url', '(no url)')}"
