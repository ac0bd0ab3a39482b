"""Sending checks to a system as defib itself: probes, replays of an incident's captured
prompts, and how their answers are judged.

Checks go to `systems[].endpoint` + `/chat/completions` when set (any OpenAI-compatible
server), else through defib's gateway at `{gateway.base_url}/systems/{name}/v1/chat/completions`
with `X-Defib-Probe: 1` and `X-Defib-Token: <a responder token minted for these checks and
revoked right after>`, which the gateway lets through its kill switch (so a disabled system
can be checked before it is re-enabled). Used by verification (is the failure gone?) and by
containment's corroboration (does the failure reproduce without the client's own input?).
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

from defib.actions.base import ActionError
from defib.actions.environment import ActionEnvironment
from defib.actions.verification import REPLAY_DETECTORS, Replay, echoed
from defib.auth import Role, generate_token
from defib.config import ProbeConfig, SystemConfig
from defib.detectors import get_detector
from defib.model import IncidentType
from defib.store import tokens as token_repo

PROBE_HEADER = "X-Defib-Probe"
TOKEN_HEADER = "X-Defib-Token"
# The state revision the probes must see: a gateway replica that has not caught up with
# the rollback or re-route just made re-reads its state first.
MIN_REVISION_HEADER = "X-Defib-Min-Revision"


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
    state = await asyncio.to_thread(env.control.state, system.name)
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


def label(result: Mapping[str, Any]) -> str:
    which = f"probe {result['probe']}" if "probe" in result else f"sample {result['replay']}"
    return f"{result['system']} {which}"


def judge_replay(
    kind: IncidentType, replay: Replay, status: int, text: str, latency_ms: float
) -> list[str]:
    return replay_problems(kind, replay, status, text)
