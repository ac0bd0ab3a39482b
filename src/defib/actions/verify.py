"""`verify_endpoint`: run each affected system's probes through its endpoint.

Where probes go: `systems[].endpoint` + `/chat/completions` when set (any OpenAI-compatible
server, e.g. the team's own), else defib's gateway at
`{gateway.base_url}/systems/{name}/v1/chat/completions` with `X-Defib-Probe: 1` and
`X-Defib-Token: <a responder token minted for this verification and revoked right after>`,
which the gateway lets through its kill switch (so a disabled system can be checked
before it is re-enabled).

Each probe passes when the answer is HTTP 200 and its text has every `must_contain`
(case-insensitive), none of `must_not_contain`, no PII/secret/toxicity finding (when
`no_findings`), within `max_latency_ms`.

All pass: this incident's kill switch is lifted on each verified system (never another
incident's), this incident's output filters are removed too if `params.remove_filters` is
true (default false: a filter may be what makes the probes pass; people remove them with
`defib systems unfilter`), and the incident is marked mitigated (a no-op if it already is,
or is further along). Any fails: nothing is re-enabled, the failures go on the timeline
(`run_step_verification_failed`) and the step fails, so its retries, `on_failure` and the
run's notifications apply.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timedelta
from typing import Any

import httpx

from defib.actions._systems import incident_seq, targets
from defib.actions.base import ActionContext, ActionError, ActionResult, Outcome
from defib.actions.containment import set_switch
from defib.actions.environment import ActionEnvironment
from defib.auth import Role, generate_token
from defib.config import ProbeConfig, SystemConfig
from defib.control import ControlService, Owner
from defib.detectors import get_detector
from defib.model import Command, IllegalTransition, Status
from defib.service import IncidentService
from defib.store import incidents as incident_repo
from defib.store import tokens as token_repo

PROBE_HEADER = "X-Defib-Probe"
TOKEN_HEADER = "X-Defib-Token"
# The state revision the probes must see: a gateway replica that has not caught up with
# the rollback or re-route just made re-reads its state first.
MIN_REVISION_HEADER = "X-Defib-Min-Revision"
VERIFIED, FAILED, SKIPPED = (
    "run_step_verified",
    "run_step_verification_failed",
    "run_step_verification_skipped",
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


def findings(text: str) -> list[str]:
    """Entity types the PII (with secrets) and toxicity detectors find: types, not values."""
    found = [f.type for f in get_detector("pii").detect(text)]
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


async def run_probes(
    env: ActionEnvironment, client: httpx.AsyncClient, system: SystemConfig, actor: str
) -> list[dict[str, Any]]:
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
        for i, probe in enumerate(system.probes):
            body = {"model": model, "messages": [{"role": "user", "content": probe.prompt}]}
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
                    else check(probe, status, text, latency)
                )
            except httpx.HTTPError as exc:
                latency = (time.monotonic() - started) * 1000
                status, problems = 0, [f"{type(exc).__name__}: {exc}"]
            results.append(
                {
                    "system": system.name,
                    "probe": i,
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


class VerifyAction:
    """params: `systems`, `remove_filters` (default false), `mitigate` (default true)."""

    name = "verify_endpoint"

    async def run(self, ctx: ActionContext) -> ActionResult:
        env = ctx.env
        found = targets(ctx, env.settings)
        with_probes = [s for s in found.systems if s.probes]
        without = [s.name for s in found.systems if not s.probes]
        if not with_probes:
            reason = (
                f"no probes configured for {', '.join(without)} (systems[].probes)"
                if without
                else found.why_none()
            )
            await ctx.record(
                SKIPPED, {"action": self.name, "step": ctx.step_name, "reason": reason}
            )
            return ActionResult(Outcome.SKIPPED, reason=f"{self.name}: {reason}")
        # A model may answer slower than a webhook: probes get the step's own timeout (the
        # latency bound is the probe's max_latency_ms), not notifications.timeout_seconds.
        async with env.http_client(ctx.timeout_seconds) as client:
            results: list[dict[str, Any]] = []
            for system in with_probes:
                results += await run_probes(env, client, system, ctx.actor)
            bad = [r for r in results if not r["ok"]]
            base = {"action": self.name, "step": ctx.step_name, "results": results}
            if bad:
                await ctx.record(FAILED, {**base, "kept_contained": True}, f"failed:{ctx.attempt}")
                detail = "; ".join(
                    f"{r['system']} probe {r['probe']}: {', '.join(r['problems'])}" for r in bad
                )
                raise ActionError(f"verification failed ({len(bad)} of {len(results)}): {detail}")
            restored = []
            seq = incident_seq(ctx)
            for system in with_probes:
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
        mitigated = "not asked (params.mitigate is false)"
        if ctx.params.get("mitigate", True) and not without and not found.unknown:
            note = f"verified by {self.name}: {len(results)} probe(s) passed"
            mitigated = await asyncio.to_thread(mark_mitigated, env, ctx, note)
        elif without or found.unknown:
            mitigated = "not marked: some affected systems could not be verified"
        await ctx.record(
            VERIFIED,
            {**base, "restored": restored, "unverified": without, "mitigated": mitigated},
            "verified",
        )
        return ActionResult(
            detail={
                "probes": len(results),
                "restored": restored,
                "unverified": without,
                "mitigated": mitigated,
            }
        )

    def describe(self, ctx: ActionContext) -> str:
        env = ctx.env
        found = targets(ctx, env.settings)
        parts = []
        for system in found.systems:
            if not system.probes:
                parts.append(f"{system.name}: no probes")
                continue
            try:
                url, _ = probe_url(env, system)
            except ActionError as exc:
                parts.append(f"would fail: {exc}")
                continue
            parts.append(f"{system.name}: {len(system.probes)} probe(s) at {url}")
        return f"{self.name}: " + ("; ".join(parts) or f"would be skipped ({found.why_none()})")
