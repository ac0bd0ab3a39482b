"""`verify_endpoint`: prove this incident's failure is gone before anything says so.

What counts as evidence depends on the incident's type (`actions.verification`):

- content incidents replay the incident's own captured samples against the version now
  serving and require the detector that fired to be clean on every answer, plus the
  system's probes that apply to the type;
- performance and availability incidents take the source reporting every alert resolved,
  or probes naming the type passing for `params.hold_seconds`, within
  `params.wait_seconds` (default 0: look once);
- with nothing applicable the step ends `unverified`: nothing is re-enabled, the incident
  stays where it is, and a person is asked to confirm (the run ends `needs_attention`).

After a failed or skipped rollback in the same run, only a clean replay of the incident's
own samples may lift the kill switch: generic probes passing on the version that leaked
prove nothing.

Where checks go: `systems[].endpoint` + `/chat/completions` when set (any OpenAI-compatible
server), else defib's gateway at `{gateway.base_url}/systems/{name}/v1/chat/completions`
with `X-Defib-Probe: 1` and `X-Defib-Token: <a responder token minted for this
verification and revoked right after>`, which the gateway lets through its kill switch (so
a disabled system can be checked before it is re-enabled).

All pass: this incident's kill switch is lifted on each verified system (never another
incident's), its output filters are removed too if `params.remove_filters` is true
(default false: a filter may be what makes the checks pass), and the incident is marked
mitigated with what was verified and how. Any check fails: nothing is re-enabled, the
failures go on the timeline (`run_step_verification_failed`) and the step fails.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from defib.actions._systems import incident_seq, targets
from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome
from defib.actions.containment import set_switch
from defib.actions.environment import ActionEnvironment
from defib.actions.evidence import _samples
from defib.actions.verification import (
    CONTENT_TYPES,
    OBJECTIVE_TYPES,
    REPLAY_DETECTORS,
    Replay,
    echoed,
    probes_for,
    replays_for,
)
from defib.auth import Role, generate_token
from defib.config import ProbeConfig, SystemConfig
from defib.control import ControlService, Owner
from defib.detectors import get_detector
from defib.events import TimelineKind
from defib.model import Command, IllegalTransition, IncidentType, Status
from defib.playbooks.runs import RunStatus
from defib.service import IncidentService
from defib.store import alerts as alert_repo
from defib.store import incidents as incident_repo
from defib.store import runs as run_repo
from defib.store import tokens as token_repo

PROBE_HEADER = "X-Defib-Probe"
TOKEN_HEADER = "X-Defib-Token"
# The state revision the probes must see: a gateway replica that has not caught up with
# the rollback or re-route just made re-reads its state first.
MIN_REVISION_HEADER = "X-Defib-Min-Revision"
VERIFIED, FAILED, SKIPPED, UNVERIFIED = (
    TimelineKind.STEP_VERIFIED,
    TimelineKind.STEP_VERIFICATION_FAILED,
    TimelineKind.STEP_VERIFICATION_SKIPPED,
    TimelineKind.STEP_UNVERIFIED,
)


def probe_url(env: ActionEnvironment, system: SystemConfig) -> tuple[str, bool]:
    """(URL, through the gateway?)."""
    if system.endpoint is not None:
        return system.endpoint.rstrip("/") + "/chat/completions", False
    if system.control.kind == "gateway":
        base = env.settings.gateway.base_url
        return f"{base}/systems/{system.name}/v1/chat/completions", True
    raise ActionError(
        f"{system.name}: systems[].endpoint is required to verify a system whose control is http"
    )


# A place named alone ("Paris is the capital of France") is no one's data: it never fails
# a probe or a replay by itself.
NOT_A_LEAK = frozenset({"LOCATION"})


def findings(text: str) -> list[str]:
    """Entity types the PII (with secrets) and toxicity detectors find: types, not values."""
    found = [f.type for f in get_detector("pii").detect(text) if f.type not in NOT_A_LEAK]
    found += [f.type for f in get_detector("toxicity").detect(text)]
    return sorted(set(found))


def check(probe: ProbeConfig, status: int, text: str, latency_ms: float) -> list[str]:
    problems: list[str] = []
    if status != 200:
        return [f"HTTP {status}"]
    low = text.lower()
    problems += [f"does not contain {s!r}" for s in probe.must_contain if s.lower() not in low]
    problems += [f"contains {s!r}" for s in probe.must_not_contain if s.lower() in low]
    if probe.no_findings:
        problems += [f"detector finding {t}" for t in findings(text)]
    if probe.max_latency_ms is not None and latency_ms > probe.max_latency_ms:
        problems.append(f"took {latency_ms:.0f} ms (bound {probe.max_latency_ms:g} ms)")
    return problems


def replay_problems(kind: IncidentType, replay: Replay, status: int, text: str) -> list[str]:
    """What the detector that fired still finds in a replayed answer (types, never values)."""
    if status != 200:
        return [f"HTTP {status}"]
    problems: list[str] = []
    for name in REPLAY_DETECTORS.get(kind, ()):
        for f in get_detector(name).detect(text, context=replay.context):
            if name == "pii" and (f.type in NOT_A_LEAK or echoed(f.text, replay.prompt)):
                continue  # a place alone, or the prompt's own data said back: not a leak
            problems.append(f"{name} finding {f.type}")
    return sorted(set(problems))


Judge = Callable[[int, str, float], list[str]]


@dataclass(frozen=True, slots=True)
class Check:
    """One request the step sends and how its answer is judged."""

    kind: str  # "probe" or "replay"
    index: int
    prompt: str
    judge: Judge


# A verification's token lives for its probes only. One left behind by a crash between
# mint and revoke is revoked by the next verification once it is older than this.
PROBE_TOKEN_PREFIX = "probe-"
PROBE_TOKEN_MAX_AGE = timedelta(minutes=15)


def _mint(env: ActionEnvironment, actor: str) -> tuple[str, str]:
    token = generate_token()
    name = f"{PROBE_TOKEN_PREFIX}{secrets.token_hex(6)}"
    now = env.clock()
    with env.db.write() as conn:
        token_repo.revoke_stale(conn, PROBE_TOKEN_PREFIX, now - PROBE_TOKEN_MAX_AGE, now)
        token_repo.create_token(
            conn,
            name=name,
            role=Role.RESPONDER,
            token=token,
            created_by=actor,
            now=env.clock(),
        )
    return name, token


def _revoke(env: ActionEnvironment, name: str) -> None:
    with env.db.write() as conn:
        token_repo.revoke_token(conn, name, env.clock())


async def run_checks(
    env: ActionEnvironment,
    client: httpx.AsyncClient,
    system: SystemConfig,
    actor: str,
    checks: Sequence[Check],
) -> list[dict[str, Any]]:
    """Send each check to the system's endpoint (through the kill switch); their results."""
    if not checks:
        return []
    url, via_gateway = probe_url(env, system)
    headers = {"Content-Type": "application/json", "User-Agent": "defib-verify"}
    state = await asyncio.to_thread(ControlService(env.db).state, system.name)
    active = system.version(state.active_version) if state and state.active_version else None
    model = (active.model if active else None) or system.name
    token_name: str | None = None
    if via_gateway:
        token_name, token = await asyncio.to_thread(_mint, env, actor)
        headers.update({PROBE_HEADER: "1", TOKEN_HEADER: token})
        if state is not None:
            headers[MIN_REVISION_HEADER] = str(state.revision)
    results: list[dict[str, Any]] = []
    try:
        for item in checks:
            body = {"model": model, "messages": [{"role": "user", "content": item.prompt}]}
            started = time.monotonic()
            try:
                response = await client.post(url, json=body, headers=headers)
                latency = (time.monotonic() - started) * 1000
                status = response.status_code
                text = ""
                if status == 200:
                    try:
                        text = str(response.json()["choices"][0]["message"]["content"] or "")
                    except (ValueError, KeyError, IndexError, TypeError):
                        status = -1
                problems = (
                    ["not an OpenAI chat completion"]
                    if status == -1
                    else item.judge(status, text, latency)
                )
            except httpx.HTTPError as exc:
                latency = (time.monotonic() - started) * 1000
                status, problems = 0, [f"{type(exc).__name__}: {exc}"]
            results.append(
                {
                    "system": system.name,
                    item.kind: item.index,
                    "ok": not problems,
                    "problems": problems,
                    "status_code": status,
                    "latency_ms": round(latency, 1),
                }
            )
    finally:
        if token_name is not None:
            await asyncio.to_thread(_revoke, env, token_name)
    return results


async def run_probes(
    env: ActionEnvironment, client: httpx.AsyncClient, system: SystemConfig, actor: str
) -> list[dict[str, Any]]:
    """Every probe of the system, whatever types it names."""
    checks = [
        Check("probe", i, p.prompt, functools.partial(check, p))
        for i, p in enumerate(system.probes)
    ]
    return await run_checks(env, client, system, actor, checks)


def _label(result: Mapping[str, Any]) -> str:
    which = f"probe {result['probe']}" if "probe" in result else f"sample {result['replay']}"
    return f"{result['system']} {which}"


def mark_mitigated(env: ActionEnvironment, ctx: ActionContext, note: str) -> str:
    """Mark the incident mitigated unless it already is (or is further along)."""
    seq = incident_seq(ctx)
    with env.db.read() as conn:
        incident = incident_repo.get_incident(conn, seq)
    if incident.status.order >= Status.MITIGATED.order:
        return f"already {incident.status.value}"
    try:
        IncidentService(env.db).apply(incident.id, Command.MITIGATE, ctx.actor, note)
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


def _param_seconds(ctx: ActionContext, name: str, default: float) -> float:
    value = ctx.params.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ActionError(f"params.{name}: must be a number of seconds >= 0")
    return float(value)


class VerifyAction:
    """params: `systems`, `remove_filters` (default false), `mitigate` (default true),
    `wait_seconds` (performance/availability: how long to wait for evidence, default 0),
    `hold_seconds` (how long objective probes must keep passing, default 0: one round),
    `interval_seconds` (between rounds, default 5)."""

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
        for system in systems:
            checks = [
                Check("replay", i, r.prompt, functools.partial(_judge_replay, kind, r))
                for i, r in enumerate(replays)
            ]
            if not short:  # after a failed rollback only the incident's own samples count
                checks += [
                    Check("probe", i, p.prompt, functools.partial(check, p))
                    for i, p in probes_for(system.probes, kind)
                ]
            plans.append((system, checks))
        unchecked = [s.name for s, checks in plans if not checks]
        if unchecked or not plans:
            why = self._nothing_applicable(kind, unchecked, replays, short)
            return await self._unverified(ctx, why, {"unchecked": unchecked, "rollback": short})
        async with env.http_client(ctx.timeout_seconds) as client:
            results: list[dict[str, Any]] = []
            for system, checks in plans:
                results += await run_checks(env, client, system, ctx.actor, checks)
            await self._fail_if_bad(ctx, results)
            restored = await self._restore(ctx, client, systems)
        replayed = sum(1 for r in results if "replay" in r)
        probed = len(results) - replayed
        how = []
        if replayed:
            detectors = ", ".join(REPLAY_DETECTORS[kind])
            how.append(f"{replayed} captured sample(s) replayed clean ({detectors})")
        if probed:
            how.append(f"{probed} {kind.value} probe(s) passed")
        return await self._verified(ctx, "; ".join(how), results, restored, list(unknown))

    @staticmethod
    def _nothing_applicable(
        kind: IncidentType, unchecked: Sequence[str], replays: Sequence[Replay], short: list[str]
    ) -> str:
        where = ", ".join(unchecked) or "the incident"
        if short:
            return (
                f"{', '.join(short)} did not roll back and {where} has no captured sample to"
                f" replay on the version now serving: it stays contained"
            )
        samples = "no replayable captured samples" if not replays else "samples"
        return f"{where}: {samples} and no probe that checks {kind.value} (probes[].types)"

    # -- performance and availability -------------------------------------------------

    async def _objective(
        self, ctx: ActionContext, kind: IncidentType, systems: Sequence[SystemConfig]
    ) -> ActionResult:
        env = ctx.env
        seq = incident_seq(ctx)
        wait = _param_seconds(ctx, "wait_seconds", 0)
        hold = _param_seconds(ctx, "hold_seconds", 0)
        interval = max(_param_seconds(ctx, "interval_seconds", 5), 0.05)
        plans = [(s, probes_for(s.probes, kind)) for s in systems]
        plans = [(s, p) for s, p in plans if p]
        deadline = time.monotonic() + wait
        passing_since: float | None = None
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
                    results = []
                    for system, probes in plans:
                        checks = [
                            Check("probe", i, p.prompt, functools.partial(check, p))
                            for i, p in probes
                        ]
                        results += await run_checks(env, client, system, ctx.actor, checks)
                    now = time.monotonic()
                    if all(r["ok"] for r in results):
                        passing_since = now if passing_since is None else passing_since
                        if now - passing_since >= hold:
                            how = f"{len(results)} {kind.value} probe(s) passed"
                            if hold:
                                how += f" for {hold:g} s"
                            restored = await self._restore(ctx, client, systems)
                            return await self._verified(ctx, how, results, restored, [])
                    else:
                        passing_since = None
                if time.monotonic() + interval > deadline:
                    break
                await asyncio.sleep(interval)
        if not plans and not total:
            why = (
                f"no alert source to report it resolved and no probe that checks {kind.value}"
                " (probes[].types)"
            )
        elif results and not all(r["ok"] for r in results):
            why = "objective not met: " + "; ".join(
                f"{_label(r)}: {', '.join(r['problems'])}" for r in results if not r["ok"]
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
        detail = "; ".join(f"{_label(r)}: {', '.join(r['problems'])}" for r in bad)
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
                await asyncio.to_thread(
                    ControlService(env.db).remove_filters, system.name, seq, owner
                )
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
            else:
                what = f"the source's resolve or {what}"
            parts.append(f"{system.name}: {what} at {url}")
        return f"{self.name}: " + ("; ".join(parts) or f"would be skipped ({found.why_none()})")


def _judge_replay(
    kind: IncidentType, replay: Replay, status: int, text: str, latency_ms: float
) -> list[str]:
    return replay_problems(kind, replay, status, text)
