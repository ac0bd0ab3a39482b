"""`verify_endpoint`: prove this incident's failure is gone before anything says so.

What counts as evidence depends on the incident's type (`actions.verification`):

- content incidents replay the incident's own captured samples against the version now
  serving and require the detector that fired to be clean on every answer, and run the
  system's probes that name the type (`probes[].types`); either is evidence. Untyped
  probes run beside that evidence and must pass too, but never verify anything alone;
- performance and availability incidents take the source reporting every alert resolved,
  or probes naming the type passing on every round for a window: the system's
  `verification.hold_seconds` (default 60), probed every `verification.interval_seconds`
  (default 5), within a wait of the hold plus two intervals; a failing round starts the
  hold again. One quick answer is no evidence that latency or reachability is back. The
  step's `params` (`hold_seconds`, `interval_seconds`, `wait_seconds`) override these;
- with nothing applicable the step ends `unverified`: nothing is re-enabled, the incident
  stays where it is, and a person is asked to confirm (the run ends `needs_attention`).

After a failed or skipped rollback in the same run, only a clean replay of the incident's
own samples may lift the kill switch: generic probes passing on the version that leaked
prove nothing.

Checks are sent by `actions.probing` (through the kill switch, as defib itself).

All pass: this incident's kill switch is lifted on each verified system (never another
incident's), its output filters are removed too if `params.remove_filters` is true
(default false: a filter may be what makes the checks pass), and the incident is marked
mitigated with what was verified and how. Any check fails: nothing is re-enabled, the
failures go on the timeline (`run_step_verification_failed`) and the step fails.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from defib.actions._systems import incident_seq, targets
from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome
from defib.actions.containment import set_switch
from defib.actions.environment import ActionEnvironment
from defib.actions.evidence import _samples
from defib.actions.probing import Check, check, judge_replay, label, probe_url, run_checks
from defib.actions.verification import (
    CONTENT_TYPES,
    OBJECTIVE_TYPES,
    REPLAY_DETECTORS,
    general_probes,
    probes_for,
    replays_for,
)
from defib.config import SystemConfig
from defib.events import TimelineKind
from defib.model import Command, IllegalTransition, IncidentType, Status
from defib.playbooks.runs import RunStatus
from defib.store import alerts as alert_repo
from defib.store import incidents as incident_repo
from defib.store import runs as run_repo
from defib.systems.control import Owner

VERIFIED, FAILED, SKIPPED, UNVERIFIED = (
    TimelineKind.STEP_VERIFIED,
    TimelineKind.STEP_VERIFICATION_FAILED,
    TimelineKind.STEP_VERIFICATION_SKIPPED,
    TimelineKind.STEP_UNVERIFIED,
)


def mark_mitigated(env: ActionEnvironment, ctx: ActionContext, note: str) -> str:
    """Mark the incident mitigated unless it already is (or is further along)."""
    seq = incident_seq(ctx)
    with env.db.read() as conn:
        incident = incident_repo.get_incident(conn, seq)
    if incident.status.order >= Status.MITIGATED.order:
        return f"already {incident.status.value}"
    try:
        env.incidents.apply(incident.id, Command.MITIGATE, ctx.actor, note)
    except IllegalTransition as exc:
        # A person moved it on between our read and our write (or its clock is ahead).
        return f"not marked: {exc}"
    return "marked mitigated"


def _samples_of(env: ActionEnvironment, seq: int) -> list[dict[str, Any]]:
    with env.db.read() as conn:
        rows = alert_repo.alerts_of_incident(conn, seq)
    return [sample for row in rows for sample in _samples(row.payload)]


def _rollback_fell_short(env: ActionEnvironment, run_id: str, before: int) -> list[str]:
    """Names of this run's rollback steps before this one that did not roll back."""
    with env.db.read() as conn:
        run = run_repo.get_run(conn, run_id)
    short = (RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.SKIPPED, RunStatus.CANCELLED)
    return [
        s.name
        for s in run.steps
        if s.index < before and s.action == "rollback_model" and s.status in short
    ]


def _series(env: ActionEnvironment, seq: int) -> tuple[int, int]:
    with env.db.read() as conn:
        return alert_repo.series_state(conn, seq)


def _status(env: ActionEnvironment, seq: int) -> Status:
    with env.db.read() as conn:
        return incident_repo.get_incident(conn, seq).status


def _param_seconds(params: Mapping[str, Any], name: str, default: float) -> float:
    value = params.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ActionError(f"params.{name}: must be a number of seconds >= 0")
    return float(value)


@dataclass(frozen=True)
class Window:
    """How an objective (performance, availability) is measured: rounds of probes every
    `interval` seconds must all pass for `hold` seconds, within `wait` seconds."""

    wait: float
    hold: float
    interval: float

    def __str__(self) -> str:
        if not self.hold:
            return "on one round"
        return f"for {self.hold:g} s, every {self.interval:g} s"


def window(params: Mapping[str, Any], timeout: float, systems: Sequence[SystemConfig]) -> Window:
    """The step's `params`, else the probed systems' `verification` settings (the strictest
    of them when there are several: the longest hold, the shortest interval).

    The default wait leaves room for the whole hold and two intervals more: a streak of
    passing rounds from the first round completes it. One that a failing round restarted
    later may not, and the step ends `unverified` (a person is asked; the source's resolve
    still mitigates the incident through intake). Without any probe to run the wait
    defaults to 0: one look at the source."""
    holds = [s.verification.hold_seconds for s in systems]
    intervals = [s.verification.interval_seconds for s in systems]
    hold = _param_seconds(params, "hold_seconds", max(holds, default=0.0))
    interval = max(_param_seconds(params, "interval_seconds", min(intervals, default=5.0)), 0.05)
    wait = _param_seconds(params, "wait_seconds", hold + 2 * interval if systems else 0.0)
    if systems and wait < hold:
        raise ActionError(
            f"params.wait_seconds ({wait:g}) is shorter than the hold ({hold:g} s): the"
            " probes could never pass for long enough"
        )
    if systems and wait >= timeout:
        # The engine would cut the step off mid-hold: say so now, not as a bare timeout.
        raise ActionError(
            f"waiting up to {wait:g} s for a {hold:g} s hold does not fit the step's"
            f" timeout_seconds ({timeout:g}): raise the step's timeout_seconds"
            " or lower systems[].verification.hold_seconds"
        )
    return Window(wait, hold, interval)


class VerifyAction:
    """params: `systems`, `remove_filters` (default false), `mitigate` (default true);
    performance/availability: `hold_seconds` (how long the probes must keep passing),
    `interval_seconds` (between rounds) and `wait_seconds` (how long to wait for
    evidence), defaulting to the system's `verification` (60 s, 5 s; the wait: the hold
    plus two intervals, or 0 with no probe to run: one look at the source)."""

    name = "verify_endpoint"

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        kind = IncidentType(str(ctx.incident["type"]))
        found = targets(ctx, env.settings)
        if not found.systems and kind in CONTENT_TYPES:
            reason = found.why_none()
            await ctx.record(
                SKIPPED, {"action": self.name, "step": ctx.step_name, "reason": reason}
            )
            return ActionResult(Outcome.SKIPPED, reason=f"{self.name}: {reason}")
        if kind in OBJECTIVE_TYPES:
            return await self._objective(ctx, kind, found.systems)
        return await self._content(ctx, kind, found.systems, found.unknown)

    # -- content incidents ------------------------------------------------------------

    async def _content(
        self,
        ctx: ActionContext,
        kind: IncidentType,
        systems: Sequence[SystemConfig],
        unknown: Sequence[str],
    ) -> ActionResult:
        env = ctx.env
        seq = incident_seq(ctx)
        samples = await asyncio.to_thread(_samples_of, env, seq)
        replays = replays_for(samples, kind)
        short = await asyncio.to_thread(_rollback_fell_short, env, ctx.run_id, ctx.step_index)
        plans: list[tuple[SystemConfig, list[Check]]] = []
        typed = general = 0
        unchecked: list[str] = []
        for system in systems:
            checks = [
                Check("replay", i, r.prompt, functools.partial(judge_replay, kind, r))
                for i, r in enumerate(replays)
            ]
            if not short:  # after a failed rollback only the incident's own samples count
                evidence = probes_for(system.probes, kind)
                checks += [
                    Check("probe", i, p.prompt, functools.partial(check, p)) for i, p in evidence
                ]
                typed += len(evidence)
            if not checks:
                # Untyped probes alone are no evidence about this failure: a person decides.
                unchecked.append(system.name)
                continue
            if not short:
                guards = general_probes(system.probes, kind)
                checks += [
                    Check("probe", i, p.prompt, functools.partial(check, p)) for i, p in guards
                ]
                general += len(guards)
            plans.append((system, checks))
        if unchecked or not plans:
            why = self._nothing_applicable(kind, unchecked, short)
            return await self._unverified(ctx, why, {"unchecked": unchecked, "rollback": short})
        async with env.http_client(ctx.timeout_seconds) as client:
            results: list[dict[str, Any]] = []
            for system, checks in plans:
                results += await run_checks(env, client, system, ctx.actor, checks)
            await self._fail_if_bad(ctx, results)
            restored = await self._restore(ctx, client, systems)
        replayed = sum(1 for r in results if "replay" in r)
        how = []
        if replayed:
            detectors = ", ".join(REPLAY_DETECTORS[kind])
            how.append(f"{replayed} captured sample(s) replayed clean ({detectors})")
        if typed:
            how.append(f"{typed} {kind.value} probe(s) passed")
        if general:
            how.append(f"{general} untyped probe(s) passed too")
        return await self._verified(ctx, "; ".join(how), results, restored, list(unknown))

    @staticmethod
    def _nothing_applicable(kind: IncidentType, unchecked: Sequence[str], short: list[str]) -> str:
        where = ", ".join(unchecked) or "the incident"
        if short:
            return (
                f"{', '.join(short)} did not roll back and {where} has no captured sample to"
                f" replay on the version now serving: it stays contained"
            )
        # Reached only without replays: a replay is a check, so its system is not unchecked.
        return (
            f"{where}: no replayable captured samples and no probe naming {kind.value} in"
            " probes[].types (untyped probes prove nothing alone)"
        )

    # -- performance and availability -------------------------------------------------

    async def _objective(
        self, ctx: ActionContext, kind: IncidentType, systems: Sequence[SystemConfig]
    ) -> ActionResult:
        env = ctx.env
        seq = incident_seq(ctx)
        plans = [(s, probes_for(s.probes, kind)) for s in systems]
        plans = [(s, p) for s, p in plans if p]
        win = window(ctx.params, ctx.timeout_seconds, [s for s, _ in plans])
        deadline = time.monotonic() + win.wait
        # When the current streak of all-passing rounds began (the start of its first
        # round, so the probes' own latency counts toward the hold); None while failing.
        passing_since: float | None = None
        rounds = 0
        results: list[dict[str, Any]] = []
        async with env.http_client(ctx.timeout_seconds) as client:
            while True:
                status = await asyncio.to_thread(_status, env, seq)
                if status.order >= Status.MITIGATED.order:
                    # A person, or the source's resolve, got there first: nothing to add.
                    return ActionResult(detail={"mitigated": f"already {status.value}"})
                total, firing = await asyncio.to_thread(_series, env, seq)
                if total and not firing:
                    how = f"the source reports all {total} alert(s) resolved"
                    restored = await self._restore(ctx, client, systems)
                    return await self._verified(ctx, how, results, restored, [])
                if plans:
                    started = time.monotonic()
                    results = []
                    for system, probes in plans:
                        checks = [
                            Check("probe", i, p.prompt, functools.partial(check, p))
                            for i, p in probes
                        ]
                        results += await run_checks(env, client, system, ctx.actor, checks)
                    if all(r["ok"] for r in results):
                        passing_since = started if passing_since is None else passing_since
                        rounds += 1
                        held = time.monotonic() - passing_since
                        # A hold needs two passing rounds at least: one answer, however
                        # slow, is a single observation, not the objective held over time.
                        if held >= win.hold and (rounds > 1 or not win.hold):
                            how = f"{len(results)} {kind.value} probe(s) passed"
                            if win.hold:
                                how += f" for {win.hold:g} s ({rounds} rounds)"
                            restored = await self._restore(ctx, client, systems)
                            return await self._verified(ctx, how, results, restored, [])
                    else:
                        passing_since, rounds = None, 0  # a failing round restarts the hold
                if time.monotonic() + win.interval > deadline:
                    break
                await asyncio.sleep(win.interval)
        if not plans and not total:
            why = (
                f"no alert source to report it resolved and no probe that checks {kind.value}"
                " (probes[].types)"
            )
        elif results and not all(r["ok"] for r in results):
            why = "objective not met: " + "; ".join(
                f"{label(r)}: {', '.join(r['problems'])}" for r in results if not r["ok"]
            )
        elif passing_since is not None:
            held = time.monotonic() - passing_since
            why = (
                f"the probes passed for only {held:.1f} s of the {win.hold:g} s hold before"
                f" the {win.wait:g} s wait ended; {firing} of {total} alert(s) still firing"
                " at their source"
            )
        else:
            why = f"{firing} of {total} alert(s) still firing at their source"
        return await self._unverified(ctx, why, {"results": results, "firing": firing})

    # -- outcomes ---------------------------------------------------------------------

    async def _fail_if_bad(self, ctx: ActionContext, results: list[dict[str, Any]]) -> None:
        bad = [r for r in results if not r["ok"]]
        if not bad:
            return
        base = {"action": self.name, "step": ctx.step_name, "results": results}
        await ctx.record(FAILED, {**base, "kept_contained": True}, f"failed:{ctx.attempt}")
        detail = "; ".join(f"{label(r)}: {', '.join(r['problems'])}" for r in bad)
        raise ActionError(f"verification failed ({len(bad)} of {len(results)}): {detail}")

    async def _restore(
        self, ctx: ActionContext, client: httpx.AsyncClient, systems: Sequence[SystemConfig]
    ) -> list[dict[str, Any]]:
        """Lift this incident's kill switch (and, if asked, its filters) on each system."""
        env = ctx.env
        seq = incident_seq(ctx)
        restored = []
        for system in systems:
            key = f"{ctx.idempotency_key}:{system.name}:enable"
            restored.append(
                {
                    "system": system.name,
                    **await set_switch(env, client, ctx, system, key, enable=True),
                }
            )
            if ctx.params.get("remove_filters", False):
                owner = Owner(ctx.actor, seq, f"{ctx.idempotency_key}:{system.name}:unfilter")
                await asyncio.to_thread(env.control.remove_filters, system.name, seq, owner)
        return restored

    async def _verified(
        self,
        ctx: ActionContext,
        how: str,
        results: list[dict[str, Any]],
        restored: list[dict[str, Any]],
        unknown: list[str],
    ) -> ActionResult:
        mitigated = "not asked (params.mitigate is false)"
        if ctx.params.get("mitigate", True) and not unknown:
            note = f"verified by {self.name}: {how}"
            mitigated = await asyncio.to_thread(mark_mitigated, ctx.env, ctx, note)
        elif unknown:
            mitigated = f"not marked: {', '.join(unknown)} could not be verified"
        data = {
            "action": self.name,
            "step": ctx.step_name,
            "how": how,
            "results": results,
            "restored": restored,
            "unverified": unknown,
            "mitigated": mitigated,
        }
        await ctx.record(VERIFIED, data, "verified")
        return ActionResult(
            detail={
                "how": how,
                "probes": len(results),
                "restored": restored,
                "unverified": unknown,
                "mitigated": mitigated,
            }
        )

    async def _unverified(
        self, ctx: ActionContext, why: str, extra: Mapping[str, Any]
    ) -> ActionResult:
        ask = (
            f"nothing proves the failure gone: {why}. Confirm with `defib incidents mitigate"
            f" {ctx.incident['id']}` once you have checked, or fix and retry this step"
        )
        await ctx.record(
            UNVERIFIED,
            {"action": self.name, "step": ctx.step_name, "reason": why, "ask": ask, **extra},
            "unverified",
        )
        return ActionResult(Outcome.UNVERIFIED, {"reason": why, "kept_contained": True}, ask)

    def describe(self, ctx: ActionContext) -> str:
        env = ctx.env
        kind = IncidentType(str(ctx.incident["type"]))
        found = targets(ctx, env.settings)
        parts = []
        for system in found.systems:
            probes = probes_for(system.probes, kind)
            try:
                url, _ = probe_url(env, system)
            except ActionError as exc:
                parts.append(f"would fail: {exc}")
                continue
            what = f"{len(probes)} {kind.value} probe(s)"
            if kind in CONTENT_TYPES:
                what = f"the incident's captured samples and {what}"
                guards = general_probes(system.probes, kind)
                if guards:
                    what += f" (with {len(guards)} untyped probe(s) beside them)"
            elif probes:
                try:
                    win = window(ctx.params, ctx.timeout_seconds, [system])
                except ActionError as exc:
                    parts.append(f"would fail: {exc}")
                    continue
                what = f"the source's resolve or {what} passing {win}"
            else:
                what = f"the source's resolve only (no {kind.value} probe)"
            parts.append(f"{system.name}: {what} at {url}")
        return f"{self.name}: " + ("; ".join(parts) or f"would be skipped ({found.why_none()})")
