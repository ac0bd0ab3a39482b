"""Containment: `disable_endpoint`, `enable_endpoint`, `block_output`,
`update_content_filters`, and the human `review_guardrails` checklist.

Per affected system, by its `control.kind`: `gateway` changes the system's state row
(through `defib.systems.control`, one transaction with the timeline event), which every gateway
replica polls; `http` POSTs a signed command to the team's control plane and then records
the same state in defib's database, so `defib systems state` shows what was asked and
verification knows what this incident disabled. Each change is keyed
`<run id>:<step index>:<system>:<what>`: a re-executed step finds its change recorded and
neither repeats it nor POSTs again (only a crash between the POST and the record repeats
the POST, with the same Idempotency-Key).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from defib.actions._systems import incident_seq, post_command, targets
from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome
from defib.actions.environment import ActionEnvironment
from defib.actions.evidence import _samples
from defib.actions.probing import Check, judge_replay, label, run_checks
from defib.actions.templating import render_text
from defib.actions.verification import replays_for
from defib.config import SystemConfig
from defib.events import TimelineKind
from defib.model import IncidentType
from defib.store import alerts as alerts_repo
from defib.store import evidence as evidence_repo
from defib.store import runs as runs_repo
from defib.systems.control import Change, Owner
from defib.systems.corroboration import StoredAlert, Verdict, judge
from defib.systems.state import FilterAction, FilterKind, OutputFilter, StateError

SKIPPED_KIND = TimelineKind.STEP_CONTROL_SKIPPED
WITHHELD_KIND = TimelineKind.CONTAINMENT_WITHHELD
FAILED_KIND = TimelineKind.STEP_CONTROL_FAILED
DEFAULT_REASON = "{{ incident.id }}: {{ incident.title }}"


def _recorded(env: ActionEnvironment, key: str) -> bool:
    with env.db.read() as conn:
        return evidence_repo.timeline_key_exists(conn, key)


def corroboration(env: ActionEnvironment, ctx: ActionContext) -> Verdict | None:
    """The corroboration gate's verdict on this incident (None: not gateway-raised)."""
    with env.db.read() as conn:
        rows = alerts_repo.alerts_of_incident(conn, incident_seq(ctx))
    stored = [StoredAlert(r.received_at, r.payload) for r in rows if isinstance(r.payload, dict)]
    return judge(stored, env.settings.gateway.corroboration, env.clock())


# Types whose replay proves something: a grounding finding is judged against the context
# the client sent, so replaying a hallucination with it would only repeat the client's word.
REPRODUCIBLE = frozenset({IncidentType.DATA_LEAK, IncidentType.TOXICITY})


async def reproduce(
    ctx: ActionContext, env: ActionEnvironment, systems: Sequence[SystemConfig], verdict: Verdict
) -> Verdict:
    """Corroborate by probe: defib sends the incident's flagged prompts again itself (their
    text only, without the images, files or tool data the client attached) to the version
    serving now; the detector that fired finding the failure again is the model's doing,
    not the client's input said back."""
    kind = IncidentType(str(ctx.incident["type"]))
    if kind not in REPRODUCIBLE:
        return verdict
    with env.db.read() as conn:
        rows = alerts_repo.alerts_of_incident(conn, incident_seq(ctx))
    replays = replays_for([s for r in rows for s in _samples(r.payload)], kind)
    if not replays:
        return verdict
    checks = [
        Check("replay", i, r.prompt, functools.partial(judge_replay, kind, r))
        for i, r in enumerate(replays)
    ]
    reproduced: list[str] = []
    async with env.http_client(ctx.timeout_seconds) as client:
        for system in systems:
            try:
                results = await run_checks(env, client, system, ctx.actor, checks)
            except ActionError:
                continue  # no way to reach it as defib: the gate's verdict stands
            reproduced += [
                f"{label(r)}: {', '.join(r['problems'])}"
                for r in results
                if r["problems"] and r["status_code"] == 200
            ]
    if not reproduced:
        return verdict
    why = "reproduced by defib's own replay of the flagged prompt(s): " + "; ".join(reproduced)
    return dataclasses.replace(verdict, corroborated=True, reason=why)


async def _skip(ctx: ActionContext, name: str, reason: str) -> ActionResult:
    await ctx.record(SKIPPED_KIND, {"action": name, "step": ctx.step_name, "reason": reason})
    return ActionResult(Outcome.SKIPPED, reason=reason)


# One system's change: returns what to report for it; raises ActionError on failure.
PerSystem = Callable[[SystemConfig, str], Awaitable[dict[str, Any]]]


async def for_each_system(
    ctx: ActionContext,
    env: ActionEnvironment,
    name: str,
    what: str,
    act: PerSystem,
    exclude: Callable[[SystemConfig], str | None] | None = None,
    *,
    contain: bool = False,
) -> ActionResult:
    """Run `act` for every configured affected system; fail (after trying all) if any failed.

    `exclude` names why a system is left out (None: keep it); if every system is left out,
    the step is skipped with those reasons. `contain`: the step takes the system (or its
    outputs, or its version) away from users, so an incident raised by gateway traffic
    alone must pass the corroboration gate first.
    """
    found = targets(ctx, env.settings)
    if not found.systems:
        return await _skip(ctx, name, f"{name}: {found.why_none()}")
    verdict = await asyncio.to_thread(corroboration, env, ctx) if contain else None
    if verdict is not None and not verdict.corroborated:
        verdict = await reproduce(ctx, env, found.systems, verdict)
    if verdict is not None and not verdict.corroborated:
        await ctx.record(
            WITHHELD_KIND, {"action": name, "step": ctx.step_name, **verdict.to_dict()}
        )
        return ActionResult(Outcome.SKIPPED, reason=f"{name}: {verdict.reason}")
    excluded = {s.name: why for s in found.systems if exclude and (why := exclude(s))}
    chosen = [s for s in found.systems if s.name not in excluded]
    if not chosen:
        reasons = "; ".join(f"{n}: {why}" for n, why in excluded.items())
        return await _skip(ctx, name, f"{name}: {reasons}")
    done: list[dict[str, Any]] = []
    failed: list[str] = []
    for system in chosen:
        key = f"{ctx.idempotency_key}:{system.name}:{what}"
        try:
            done.append({"system": system.name, **await act(system, key)})
        except (ActionError, StateError) as exc:
            failed.append(f"{system.name}: {exc}")
            await ctx.record(
                FAILED_KIND,
                {"action": name, "step": ctx.step_name, "system": system.name, "error": str(exc)},
                f"{system.name}:{what}:failed:{ctx.attempt}",
            )
    if failed:
        raise ActionError(f"{name} failed for {len(failed)} system(s): " + "; ".join(failed))
    detail: dict[str, Any] = {
        "systems": done,
        "unknown_systems": found.unknown,
        "excluded": excluded,
    }
    if verdict is not None:
        detail["corroboration"] = verdict.to_dict()
    return ActionResult(detail=detail)


def _summary(change: Change) -> dict[str, Any]:
    s = change.state
    return {
        "changed": change.changed,
        "repeated": change.repeated,
        "disabled": s.disabled,
        "disabled_by": s.disabled_by,
        "filters": len(s.filters),
        "revision": s.revision,
    }


async def set_switch(
    env: ActionEnvironment,
    client: httpx.AsyncClient,
    ctx: ActionContext,
    system: SystemConfig,
    key: str,
    *,
    enable: bool,
    reason: str = "",
    force: bool = False,
) -> dict[str, Any]:
    """Turn one system's kill switch on or off for this incident, once per `key`.

    Enabling only undoes what this incident did (unless `force`): a system another incident
    disabled stays disabled, and its control plane is not even asked.
    """
    control = env.control
    seq = incident_seq(ctx)
    owner = Owner(ctx.actor, seq, key)
    if await asyncio.to_thread(_recorded, env, key):
        return {"already": True}
    extra: dict[str, Any] = {}
    if system.control.kind == "http":
        state = await asyncio.to_thread(control.state, system.name)
        ours = state is not None and state.disabled and state.disabled_by == seq
        if not enable or ours or force:
            extra["control_plane"] = await post_command(
                env,
                client,
                system,
                "control",
                action="enable" if enable else "disable",
                incident=str(ctx.incident["id"]),
                key=key,
                **({} if enable else {"reason": reason}),
            )
    if enable:
        change = await asyncio.to_thread(control.enable, system.name, owner, force=force)
    else:
        change = await asyncio.to_thread(control.disable, system.name, owner, reason)
    return {"control": system.control.kind, **_summary(change), **extra}


class SwitchAction:
    """`disable_endpoint` (on=False) / `enable_endpoint` (on=True): the kill switch.

    params: `reason` (template, disable only), `systems` (default: the incident's),
    `force` (enable only: re-enable even if another incident disabled it; default false).
    """

    def __init__(self, name: str, *, enable: bool) -> None:
        self.name = name
        self.enable = enable

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        reason = render_text(str(ctx.params.get("reason", DEFAULT_REASON)), ctx.incident)
        force = bool(ctx.params.get("force", False))
        what = "enable" if self.enable else "disable"
        async with env.http_client() as client:

            async def act(system: SystemConfig, key: str) -> dict[str, Any]:
                return await set_switch(
                    env, client, ctx, system, key, enable=self.enable, reason=reason, force=force
                )

            return await for_each_system(ctx, env, self.name, what, act, contain=not self.enable)

    def describe(self, ctx: ActionContext) -> str:
        env = ctx.env
        found = targets(ctx, env.settings)
        if not found.systems:
            return f"{self.name}: would be skipped ({found.why_none()})"
        verb = "re-enable (if this incident disabled it)" if self.enable else "disable"
        parts = [
            f"{s.name} via {s.control.kind}"
            + (f" ({s.control.url})" if s.control.kind == "http" else "")
            for s in found.systems
        ]
        return f"{self.name}: {verb} " + ", ".join(parts)


# Filters added when a step names none, by incident type: detectors and their thresholds.
DEFAULT_DETECTORS: dict[str, dict[str, float]] = {
    "data_leak": {"pii": 0.5, "secrets": 0.5},
    "toxicity": {"toxicity": 0.5},
}


class OutputFilterStep:
    """`block_output` / `update_content_filters`: add output filters to each system.

    params: `patterns` (regular expressions over the response), `detectors` (a list of
    `pii`, `secrets`, `toxicity`, or a mapping of them to thresholds 0..1), `action`
    (`block` or `redact`), `reason` (template), `systems`. With neither patterns nor
    detectors, the incident type's defaults (data_leak: pii + secrets, toxicity: toxicity);
    for other types the step is skipped. Every filter carries the incident's seq, so
    `defib systems unfilter NAME --incident INC-n` (or the API) removes them together.
    """

    def __init__(self, name: str, *, default_action: FilterAction, threshold_scale: float) -> None:
        self.name = name
        self.default_action = default_action
        # update_content_filters tightens the detector defaults (a lower threshold).
        self.threshold_scale = threshold_scale

    def filters(self, ctx: ActionContext) -> list[OutputFilter]:
        seq = incident_seq(ctx)
        note = render_text(str(ctx.params.get("reason", DEFAULT_REASON)), ctx.incident)
        try:
            action = FilterAction(ctx.params.get("action", self.default_action.value))
        except ValueError:
            raise ActionError("params.action: must be block or redact") from None
        patterns = ctx.params.get("patterns", [])
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ActionError("params.patterns: must be a regular expression or a list of them")
        detectors = ctx.params.get("detectors")
        chosen: dict[str, float]
        if detectors is None:
            chosen = {} if patterns else dict(DEFAULT_DETECTORS.get(str(ctx.incident["type"]), {}))
            chosen = {k: round(v * self.threshold_scale, 3) for k, v in chosen.items()}
        elif isinstance(detectors, list) and all(isinstance(d, str) for d in detectors):
            chosen = dict.fromkeys(detectors, 0.5)
        elif isinstance(detectors, dict):
            chosen = {}
            for k, v in detectors.items():
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise ActionError(f"params.detectors.{k}: the threshold must be a number")
                chosen[str(k)] = float(v)
        else:
            raise ActionError("params.detectors: a list of names or a mapping name -> threshold")
        out: list[OutputFilter] = []
        try:
            for i, pattern in enumerate(patterns):
                out.append(
                    OutputFilter(
                        f"{ctx.idempotency_key}:p{i}",
                        FilterKind.PATTERN,
                        action,
                        pattern=pattern,
                        incident_seq=seq,
                        note=note,
                    )
                )
            for detector, threshold in sorted(chosen.items()):
                out.append(
                    OutputFilter(
                        f"{ctx.idempotency_key}:{detector}",
                        FilterKind.DETECTOR,
                        action,
                        detector=detector,
                        threshold=threshold,
                        incident_seq=seq,
                        note=note,
                    )
                )
        except StateError as exc:
            raise ActionError(f"params: {exc}") from exc
        return out

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        wanted = self.filters(ctx)
        if not wanted:
            return await _skip(
                ctx,
                self.name,
                f"{self.name}: no filters to add: give params patterns or detectors (no default"
                f" for {ctx.incident['type']} incidents)",
            )
        control = env.control
        seq = incident_seq(ctx)
        async with env.http_client() as client:

            async def act(system: SystemConfig, key: str) -> dict[str, Any]:
                if await asyncio.to_thread(_recorded, env, key):
                    return {"already": True}
                extra: dict[str, Any] = {}
                if system.control.kind == "http":
                    extra["control_plane"] = await post_command(
                        env,
                        client,
                        system,
                        "control",
                        action="add_filters",
                        incident=str(ctx.incident["id"]),
                        key=key,
                        filters=[f.to_dict() for f in wanted],
                    )
                change = await asyncio.to_thread(
                    control.add_filters, system.name, wanted, Owner(ctx.actor, seq, key)
                )
                return {"control": system.control.kind, **_summary(change), **extra}

            result = await for_each_system(ctx, env, self.name, "filters", act, contain=True)
        return ActionResult(
            result.outcome,
            {**result.detail, "added": [f.to_dict() for f in wanted]},
            result.reason,
        )

    def describe(self, ctx: ActionContext) -> str:
        env = ctx.env
        found = targets(ctx, env.settings)
        wanted = self.filters(ctx)
        if not found.systems or not wanted:
            return f"{self.name}: would be skipped"
        what = ", ".join(
            (f"/{f.pattern}/" if f.kind is FilterKind.PATTERN else f"{f.detector}>={f.threshold}")
            + f" {f.action.value}"
            for f in wanted
        )
        return f"{self.name}: add {what} on {', '.join(s.name for s in found.systems)}"


CHECKLISTS: dict[str, list[str]] = {
    "toxicity": [
        "Which guardrail should have caught the output (input filter, output filter, "
        "system prompt), and was it enabled for this system?",
        "Check the toxicity threshold and lexicon against the offending samples.",
        "Check the system prompt's refusal instructions and any recent prompt changes.",
        "Add probes (systems[].probes) that reproduce the offending prompts.",
        "Decide whether this incident's output filters stay after it resolves.",
    ],
    "data_leak": [
        "Which data source reached the model (RAG index, fine-tuning data, tools)?",
        "Check PII/secret output filters are on for every endpoint of the system.",
        "Check access controls on the retrieval layer for the affected users.",
    ],
}
DEFAULT_CHECKLIST = [
    "Which guardrail should have caught this, and was it enabled?",
    "What change would catch it next time (filter, threshold, probe)?",
]


class ReviewGuardrailsAction:
    """`review_guardrails`: a checklist for people, on the timeline.

    params: `items` (the checklist; default per incident type). On a step with `approval`
    (as in the built-in toxicity playbook) the run waits for a person's approval first, and
    the checklist is recorded as signed off by them (with their note); without approval it
    is recorded as open, a to-do on the incident.
    """

    name = "review_guardrails"

    def _items(self, ctx: ActionContext) -> list[str]:
        items = ctx.params.get("items")
        if items is None:
            return CHECKLISTS.get(str(ctx.incident["type"]), DEFAULT_CHECKLIST)
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ActionError("params.items: must be a list of strings")
        return [render_text(i, ctx.incident) for i in items]

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        items = self._items(ctx)

        def approval() -> dict[str, Any] | None:
            with env.db.read() as conn:
                return runs_repo.get_step(conn, ctx.run_id, ctx.step_index).approval

        decided = await asyncio.to_thread(approval)
        signed = decided is not None and decided.get("decision") == "approve"
        data: dict[str, Any] = {
            "action": self.name,
            "step": ctx.step_name,
            "title": "Guardrail review",
            "items": items,
            "status": "signed_off" if signed else "open",
        }
        if signed and decided is not None:
            data["signed_off_by"] = decided.get("by")
            data["note"] = decided.get("note") or ""
        await ctx.record(TimelineKind.STEP_CHECKLIST, data, "checklist")
        return ActionResult(detail={"items": len(items), "status": data["status"]})

    def describe(self, ctx: ActionContext) -> str:
        items = "; ".join(f"{i}) {item}" for i, item in enumerate(self._items(ctx), 1))
        return f"{self.name}: sign off the guardrail checklist: {items}"
