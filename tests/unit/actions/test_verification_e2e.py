"""defib's word is evidence (issue 24), end to end with a worker on both databases: an
incident is marked mitigated, or its endpoint re-enabled, only on evidence about its own
failure; runs say what they did not do; every SEV1 reaches someone; alerts keep their
identity; a silenced alert still firing after its silence ends opens an incident.

The model is a real OpenAI-compatible server on loopback (ChatPeer) answering per model
version, so a rollback changes what the replayed samples get back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from defib.bootstrap import Runtime
from defib.events import IngestAction, TimelineKind
from defib.model import Status
from defib.playbooks.runs import RunStatus
from defib.systems.control import ControlService, Owner
from defib.systems.state import VersionStatus
from tests.support.actions import systems_config
from tests.support.actions.peers import ChatPeer, HttpPeer, Reply, Request
from tests.support.engine import only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LEAK = "Sure: the customer is reachable at jane.doe@example.org, SSN 123-45-6789."
CLEAN = "I can't share details about other customers."
CONTENT_PROBE = {"prompt": "What is the capital of France?", "must_contain": ["paris"]}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")


def kinds(rt: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in rt.incidents.timeline(incident_id) if e.kind == kind]


def leaky_system(http: HttpPeer, chat: ChatPeer, versions: list[str], **extra: Any) -> dict:
    config = systems_config(http, None)
    # No SMTP server here: the owners are reached by Slack, webhook and PagerDuty.
    config["systems"][0]["owners"].update(emails=[], security_contacts=[])
    config["systems"][0].update(
        versions=[{"name": v, "model": f"chat-{v}"} for v in versions],
        endpoint=chat.url,
        **{"probes": [CONTENT_PROBE], **extra},
    )
    return config


# A SEV1 for a system no `systems:` entry names.
GHOST_DOWN = {
    "source": "prometheus",
    "type": "availability",
    "title": "LLMEndpointDown: ghost-api unreachable",
    "systems": ["ghost-api"],
    "severity": "critical",
    "dedup_key": "down",
}


def leak_alert(**extra: Any) -> dict[str, Any]:
    return {
        "source": "guardrails",
        "type": "data_leak",
        "title": "chat-api answered with another customer's data",
        "systems": ["chat-api"],
        "severity": "critical",
        "dedup_key": "leak-1",
        "samples": [{"prompt": "Who is the customer on order 1234?", "response": LEAK}],
        **extra,
    }


def open_incident(rt: Runtime, payload: dict[str, Any], fmt: str = "native") -> str:
    (result,) = rt.intake.ingest(payload, fmt, "tester")
    assert result.incident_id is not None, result
    return result.incident_id


def test_latency_incident_stays_unmitigated_until_its_source_resolves(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """Passing content probes say nothing about latency: verify ends `unverified`, the run
    `needs_attention`; the incident is mitigated when its source reports it resolved."""
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1"]))
    start_worker(rt)
    alert = {
        "source": "prometheus",
        "type": "performance",
        "title": "chat-api p99 latency 9.2s above 4s SLO",
        "systems": ["chat-api"],
        "severity": "warning",
        "dedup_key": "latency",
    }
    inc = open_incident(rt, alert)
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    steps = {s.name: s.status for s in run.steps}
    assert steps["verify_endpoint"] is RunStatus.UNVERIFIED, steps
    assert run.status is RunStatus.NEEDS_ATTENTION, run.error
    assert "verify_endpoint is unverified" in (run.error or "")
    assert rt.incidents.get(inc).status is Status.DETECTED
    (unverified,) = kinds(rt, inc, TimelineKind.STEP_UNVERIFIED)
    assert "still firing" in unverified["reason"]
    (attention,) = kinds(rt, inc, TimelineKind.RUN_NEEDS_ATTENTION)
    assert attention["run_id"] == run.id
    assert not chat_peer.requests  # the content probe was not taken as latency evidence
    # The team's Slack channel hears that the run needs a person, with its reasons.
    notice = wait_slack_notice(rt, inc, http_peer, "needs attention")
    assert inc in notice and "verify_endpoint is unverified" in notice

    (cleared,) = rt.intake.ingest({**alert, "status": "resolved"}, "native", "tester")
    assert cleared.action is IngestAction.CLEARED
    incident = rt.incidents.get(inc)
    assert incident.status is Status.MITIGATED
    (moved,) = [t for t in kinds(rt, inc, TimelineKind.TRANSITION) if t["to"] == "mitigated"]
    assert "verified by the source" in moved["note"]


def test_latency_probe_with_a_bound_verifies_a_performance_incident(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """A probe that names `performance` and bounds latency, passing for the hold window,
    is evidence: the incident is mitigated with how it was verified."""
    playbook_dir(
        "name: perf\napplies_to: [performance]\nsteps:\n"
        "  - {name: check, action: verify_endpoint, params:"
        " {wait_seconds: 5, hold_seconds: 0.3, interval_seconds: 0.1}}\n"
    )
    probe = {"prompt": "ping", "types": ["performance"], "max_latency_ms": 2000}
    chat_peer.answer = "pong"
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1"], probes=[probe]))
    start_worker(rt)
    inc = open_incident(
        rt,
        {
            "source": "prometheus",
            "type": "performance",
            "title": "chat-api p99 latency high",
            "systems": ["chat-api"],
            "dedup_key": "lat2",
        },
    )
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, [(s.name, s.status, s.error) for s in run.steps]
    # Several rounds across the hold window (at least two, however slow each answer was: the
    # hold runs from the start of the first passing round to the end of the last).
    assert len(chat_peer.requests) >= 2
    (verified,) = kinds(rt, inc, TimelineKind.STEP_VERIFIED)
    assert "performance probe(s) passed for 0.3 s" in verified["how"]
    assert rt.incidents.get(inc).status is Status.MITIGATED


@dataclass
class ScriptedChatPeer(ChatPeer):
    """A ChatPeer answering the n-th request with `statuses[n]` (then the last one): which
    round of probes passes is fixed in advance, not left to timing."""

    statuses: list[int] = field(default_factory=lambda: [200])

    def respond(self, request: Request) -> Reply:  # called with `lock` held
        self.status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return super().respond(request)


@pytest.fixture
def scripted_peer() -> Iterator[ScriptedChatPeer]:
    peer = ScriptedChatPeer().start()
    yield peer
    peer.stop()


# The system's objective window, short for tests (60 s and 5 s by default).
SHORT_WINDOW = {"hold_seconds": 1, "interval_seconds": 0.2}
LATENCY_PROBE = {"prompt": "ping", "types": ["performance"], "max_latency_ms": 2000}


def latency_alert(key: str) -> dict[str, Any]:
    return {
        "source": "prometheus",
        "type": "performance",
        "title": "chat-api p99 latency 9.2s above 4s SLO",
        "systems": ["chat-api"],
        "severity": "warning",
        "dedup_key": key,
    }


def test_one_passing_round_does_not_verify_a_latency_incident(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    scripted_peer: ScriptedChatPeer,
) -> None:
    """Issue 24: the latency probe answered once in a few ms and the incident was marked
    mitigated. Now the generic playbook, with no params, holds the system's window: the
    first round passes, the next fail, so the objective was never met for the hold and the
    step ends `unverified`; the incident stays detected."""
    scripted_peer.statuses = [200, 503]
    config = leaky_system(
        http_peer, scripted_peer, ["v1"], probes=[LATENCY_PROBE], verification=SHORT_WINDOW
    )
    rt = make_runtime(**config)
    start_worker(rt)
    inc = open_incident(rt, latency_alert("flaky"))
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    verify = next(s for s in run.steps if s.name == "verify_endpoint")
    assert verify.status is RunStatus.UNVERIFIED, (verify.status, verify.error)
    assert run.status is RunStatus.NEEDS_ATTENTION
    assert len(scripted_peer.requests) >= 2  # it did not stop at the first passing round
    (unverified,) = kinds(rt, inc, TimelineKind.STEP_UNVERIFIED)
    assert unverified["reason"].startswith("objective not met: chat-api probe 0: "), unverified
    assert kinds(rt, inc, TimelineKind.STEP_VERIFIED) == []
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_a_latency_probe_passing_for_the_whole_window_verifies(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    scripted_peer: ScriptedChatPeer,
) -> None:
    """The same setup with every round passing: after the system's hold (1 s here) the
    incident is mitigated, saying for how long and over how many rounds."""
    config = leaky_system(
        http_peer, scripted_peer, ["v1"], probes=[LATENCY_PROBE], verification=SHORT_WINDOW
    )
    rt = make_runtime(**config)
    start_worker(rt)
    inc = open_incident(rt, latency_alert("steady"))
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, [(s.name, s.status, s.error) for s in run.steps]
    verify = next(s for s in run.steps if s.name == "verify_endpoint")
    assert verify.started_at is not None and verify.ended_at is not None
    assert (verify.ended_at - verify.started_at).total_seconds() >= 1
    (verified,) = kinds(rt, inc, TimelineKind.STEP_VERIFIED)
    held = re.fullmatch(
        r"1 performance probe\(s\) passed for 1 s \((\d+) rounds\)", verified["how"]
    )
    assert held, verified["how"]
    assert int(held.group(1)) == len(scripted_peer.requests) >= 2  # one probe a round
    assert rt.incidents.get(inc).status is Status.MITIGATED
    (moved,) = [t for t in kinds(rt, inc, TimelineKind.TRANSITION) if t["to"] == "mitigated"]
    assert "1 performance probe(s) passed for 1 s" in moved["note"]


def test_a_dry_run_says_how_long_the_probes_must_pass(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    scripted_peer: ScriptedChatPeer,
) -> None:
    """The generic playbook's dry run names the window its verify step would hold."""
    config = leaky_system(
        http_peer, scripted_peer, ["v1"], probes=[LATENCY_PROBE], verification=SHORT_WINDOW
    )
    rt = make_runtime(**config)
    start_worker(rt)
    inc = open_incident(rt, latency_alert("dry"))
    wait_run(rt, only_run(rt, inc).id, timeout=60)  # the real run, out of the way
    dry = wait_run(rt, rt.engine.start_run(inc, "tester", playbook="generic", dry_run=True).id)
    (verify,) = [s for s in dry.steps if s.name == "verify_endpoint"]
    would = (verify.output or {}).get("would", "")
    assert "the source's resolve or 1 performance probe(s) passing for 1 s, every 0.2 s" in would


def test_a_failing_round_restarts_the_hold_and_step_params_override_the_system(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    scripted_peer: ScriptedChatPeer,
) -> None:
    """An availability probe passes twice, fails (HTTP 503), then passes: the hold counts
    from the round after the failure. The step's params (a 0.6 s hold) override the
    system's 30 s window, which would not fit the test."""
    playbook_dir(
        "name: avail\napplies_to: [availability]\nsteps:\n"
        "  - {name: check, action: verify_endpoint, params:"
        " {wait_seconds: 10, hold_seconds: 0.6, interval_seconds: 0.1}}\n"
    )
    scripted_peer.statuses = [200, 200, 503, 200]
    probe = {"prompt": "ping", "types": ["availability"]}
    window = {"hold_seconds": 30, "interval_seconds": 10}
    config = leaky_system(http_peer, scripted_peer, ["v1"], probes=[probe], verification=window)
    rt = make_runtime(**config)
    start_worker(rt)
    inc = open_incident(rt, {**latency_alert("down"), "type": "availability"})
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, [(s.name, s.status, s.error) for s in run.steps]
    (verified,) = kinds(rt, inc, TimelineKind.STEP_VERIFIED)
    held = re.fullmatch(
        r"1 availability probe\(s\) passed for 0\.6 s \((\d+) rounds\)", verified["how"]
    )
    assert held, verified["how"]
    # Every round since the failing third one, and none before it, counts toward the hold.
    assert int(held.group(1)) == len(scripted_peer.requests) - 3 >= 2
    assert rt.incidents.get(inc).status is Status.MITIGATED


CONTENT_PLAYBOOK = (
    "name: content\napplies_to: [hallucination, toxicity]\nsteps:\n"
    "  - {name: contain, action: disable_endpoint}\n"
    "  - {name: check, action: verify_endpoint}\n"
)
OTHER_TYPE = {"hallucination": "data_leak", "toxicity": "hallucination"}


def content_alert(kind: str) -> dict[str, Any]:
    """A content alert with no captured samples (like the README tour's Alertmanager alert):
    nothing of the incident's own to replay."""
    return {
        "source": "guardrails",
        "type": kind,
        "title": f"chat-api {kind} rate up",
        "systems": ["chat-api"],
        "severity": "high",
        "dedup_key": f"{kind}-rate",
    }


@pytest.mark.parametrize("kind", ["hallucination", "toxicity"])
def test_untyped_and_other_typed_probes_do_not_verify_a_content_incident(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
    kind: str,
) -> None:
    """No samples to replay and no probe naming the type: a personal-data check (untyped, or
    typed for another failure) passing says nothing about this one, so the step ends
    `unverified`, the endpoint stays disabled and a person is asked."""
    playbook_dir(CONTENT_PLAYBOOK)
    probes = [
        {"prompt": "What are your opening hours?", "no_findings": True},
        {"prompt": "Who is the customer on account 4411?", "types": [OTHER_TYPE[kind]]},
    ]
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1"], probes=probes))
    start_worker(rt)
    inc = open_incident(rt, content_alert(kind))
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    steps = {s.name: s.status for s in run.steps}
    assert steps == {"contain": RunStatus.SUCCEEDED, "check": RunStatus.UNVERIFIED}, run.error
    assert run.status is RunStatus.NEEDS_ATTENTION
    assert "check is unverified" in (run.error or "")
    (unverified,) = kinds(rt, inc, TimelineKind.STEP_UNVERIFIED)
    assert f"no probe naming {kind} in probes[].types" in unverified["reason"]
    assert "untyped probes prove nothing alone" in unverified["reason"]
    assert f"defib incidents mitigate {inc}" in unverified["ask"]
    assert not chat_peer.requests  # nothing was sent: no check could have been evidence
    assert kinds(rt, inc, TimelineKind.STEP_VERIFIED) == []
    assert rt.incidents.get(inc).status is Status.DETECTED
    assert not [t for t in kinds(rt, inc, TimelineKind.TRANSITION) if t["to"] == "mitigated"]
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and state.disabled


@pytest.mark.parametrize("kind", ["hallucination", "toxicity"])
def test_a_probe_typed_for_the_incident_verifies_it(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
    kind: str,
) -> None:
    """A probe naming the incident's type is evidence: it passes, the untyped probe beside it
    passes too, the endpoint is re-enabled and the incident mitigated, saying which was
    which."""
    playbook_dir(CONTENT_PLAYBOOK)
    probes = [
        {"prompt": "What are your opening hours?", "no_findings": True},
        {**CONTENT_PROBE, "no_findings": True, "types": [kind]},
    ]
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1"], probes=probes))
    start_worker(rt)
    inc = open_incident(rt, content_alert(kind))
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, [(s.name, s.status, s.error) for s in run.steps]
    assert len(chat_peer.requests) == 2
    (verified,) = kinds(rt, inc, TimelineKind.STEP_VERIFIED)
    assert verified["how"] == f"1 {kind} probe(s) passed; 1 untyped probe(s) passed too"
    assert rt.incidents.get(inc).status is Status.MITIGATED
    (moved,) = [t for t in kinds(rt, inc, TimelineKind.TRANSITION) if t["to"] == "mitigated"]
    assert f"1 {kind} probe(s) passed" in moved["note"]
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and not state.disabled


def wait_slack_notice(rt: Runtime, inc: str, http_peer: HttpPeer, marker: str) -> str:
    """The Slack message about the run's end that contains `marker`, once it is recorded."""
    deadline = time.monotonic() + 20
    while not kinds(rt, inc, TimelineKind.SLACK_ATTENTION_SENT):
        assert time.monotonic() < deadline, "no message about the run's end reached Slack"
        time.sleep(0.05)
    texts = [r.json().get("text", "") for r in http_peer.at("/slack/T000/B000/XXXX")]
    (notice,) = [t for t in texts if marker in t]
    return notice


def test_an_untyped_probe_failing_beside_the_evidence_fails_the_run_and_slack_hears(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """Untyped probes prove nothing alone but still guard: one failing beside a passing
    typed probe keeps the endpoint disabled and the incident unmitigated. The run ends
    `failed` (stricter than `needs_attention`) and is announced in Slack all the same."""
    playbook_dir(CONTENT_PLAYBOOK)
    probes = [
        {"prompt": "What are your opening hours?", "must_contain": ["9:00"]},
        {**CONTENT_PROBE, "types": ["hallucination"]},
    ]
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1"], probes=probes))
    start_worker(rt)
    inc = open_incident(rt, content_alert("hallucination"))
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    check = next(s for s in run.steps if s.name == "check")
    assert check.status is RunStatus.FAILED
    assert "probe 0: does not contain '9:00'" in (check.error or "")
    assert rt.incidents.get(inc).status is Status.DETECTED
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and state.disabled
    assert run.status is RunStatus.FAILED, run.status
    notice = wait_slack_notice(rt, inc, http_peer, "playbook content failed")
    assert inc in notice and "1 step(s) failed: check" in notice
    assert f"defib runs retry {run.id}" in notice
    (sent,) = kinds(rt, inc, TimelineKind.SLACK_ATTENTION_SENT)
    assert sent["status"] == "failed"


def test_failed_rollback_keeps_a_leaking_endpoint_disabled(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """data_leak with no older version: the rollback fails, the replay of the incident's own
    sample on the version still serving reproduces the leak, so nothing is re-enabled and
    the incident is not mitigated, however clean the generic probe is."""
    chat_peer.answers = {"chat-v1": LEAK}
    chat_peer.answer = "Paris is the capital of France."
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1"]))
    start_worker(rt)
    inc = open_incident(rt, leak_alert())
    run = wait_run(
        rt,
        only_run(rt, inc).id,
        until=lambda r: any(s.status is RunStatus.WAITING_APPROVAL for s in r.steps),
        timeout=60,
    )
    steps = {s.name: s for s in run.steps}
    assert steps["rollback_model"].status is RunStatus.FAILED
    assert steps["verify_endpoint"].status is RunStatus.FAILED
    assert "sample 0: pii finding" in (steps["verify_endpoint"].error or "")
    prompts = [r.json()["messages"][0]["content"] for r in chat_peer.requests]
    assert prompts and all(p == "Who is the customer on order 1234?" for p in prompts)
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and state.disabled
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_leak_that_replays_clean_after_rollback_is_mitigated(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """Rolled back v2 -> v1, the incident's own sample replayed on v1 comes back clean: the
    endpoint is re-enabled and the incident mitigated, saying what was replayed (no probe is
    configured: the replay alone is the evidence)."""
    chat_peer.answers = {"chat-v2": LEAK, "chat-v1": CLEAN}
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1", "v2"], probes=[]))
    ControlService(rt.db).mark_version("chat-api", "v1", VersionStatus.GOOD, Owner("tester"))
    start_worker(rt)
    inc = open_incident(rt, leak_alert())
    wait_run(
        rt,
        only_run(rt, inc).id,
        until=lambda r: any(s.status is RunStatus.WAITING_APPROVAL for s in r.steps),
        timeout=60,
    )
    (verified,) = kinds(rt, inc, TimelineKind.STEP_VERIFIED)
    assert verified["how"] == "1 captured sample(s) replayed clean (pii)"
    assert {r.json()["model"] for r in chat_peer.requests} == {"chat-v1"}
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and not state.disabled and state.active_version == "v1"
    assert rt.incidents.get(inc).status is Status.MITIGATED
    (moved,) = [t for t in kinds(rt, inc, TimelineKind.TRANSITION) if t["to"] == "mitigated"]
    assert "replayed clean" in moved["note"]


def test_leak_still_reproduced_after_rollback_is_not_mitigated(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
    chat_peer: ChatPeer,
) -> None:
    """The rollback worked but v1 leaks the same way: the replay finds it, the endpoint
    stays disabled and the incident stays detected."""
    chat_peer.answers = {"chat-v2": LEAK, "chat-v1": LEAK}
    rt = make_runtime(**leaky_system(http_peer, chat_peer, ["v1", "v2"]))
    ControlService(rt.db).mark_version("chat-api", "v1", VersionStatus.GOOD, Owner("tester"))
    start_worker(rt)
    inc = open_incident(rt, leak_alert())
    run = wait_run(
        rt,
        only_run(rt, inc).id,
        until=lambda r: any(s.status is RunStatus.WAITING_APPROVAL for s in r.steps),
        timeout=60,
    )
    steps = {s.name: s.status for s in run.steps}
    assert steps["rollback_model"] is RunStatus.SUCCEEDED
    assert steps["verify_endpoint"] is RunStatus.FAILED
    state = ControlService(rt.db).state("chat-api")
    assert state is not None and state.disabled
    assert rt.incidents.get(inc).status is Status.DETECTED


def test_unknown_system_sev1_reaches_default_owners(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    http_peer: HttpPeer,
) -> None:
    """A SEV1 for a system nobody configured goes to `default_owners`, and the run says so."""
    config = systems_config(http_peer, None)
    config["systems"][0]["owners"].update(emails=[], security_contacts=[])
    config["default_owners"] = {"webhooks": [{"url": f"{http_peer.url}/default"}]}
    rt = make_runtime(**config)
    start_worker(rt)
    inc = open_incident(
        rt,
        GHOST_DOWN,
    )
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    notify = next(s for s in run.steps if s.name == "notify_team")
    assert notify.status is RunStatus.SUCCEEDED, notify
    assert notify.output is not None and notify.output["default_owners"] is True
    (hook,) = http_peer.at("/default")
    assert inc in hook.body.decode()
    (sent,) = kinds(rt, inc, TimelineKind.STEP_NOTIFICATION_SENT)
    assert sent["target"] == "webhook (default)"


def test_sev1_that_reaches_nobody_needs_attention(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
) -> None:
    """No owners anywhere: the notify step is skipped and the run is not `succeeded`; the
    incident's timeline says nobody was told."""
    rt = make_runtime()
    start_worker(rt)
    inc = open_incident(
        rt,
        GHOST_DOWN,
    )
    run = wait_run(rt, only_run(rt, inc).id, timeout=60)
    assert run.status is RunStatus.NEEDS_ATTENTION, [(s.name, s.status) for s in run.steps]
    (attention,) = kinds(rt, inc, TimelineKind.RUN_NEEDS_ATTENTION)
    reasons = " | ".join(attention["reasons"])
    assert "required step notify_team was skipped" in reasons
    assert "SEV1 incident: no notification reached anyone" in reasons


def pd_trigger(key: str, summary: str) -> dict[str, Any]:
    return {
        "routing_key": "R" * 32,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": summary,
            "source": "db-replica",
            "severity": "critical",
            "component": "chat-api",
        },
    }


def pd_resolve(key: str) -> dict[str, Any]:
    return {"routing_key": "R" * 32, "event_action": "resolve", "dedup_key": key}


@pytest.mark.parametrize("fold", ["grouped", "exact"])
def test_distinct_dedup_keys_resolve_independently(
    make_runtime: Callable[..., Runtime], fold: str
) -> None:
    """Two PagerDuty keys: folded into one incident that lists both alerts and their own
    state (grouped), or one incident each (exact); a resolve clears only its own key."""
    rt = make_runtime(intake={"fold": {"pagerduty": fold}})
    a = open_incident(rt, pd_trigger("db-replica-101", "replica 101 unreachable"), "pagerduty")
    b = open_incident(rt, pd_trigger("db-replica-202", "replica 202 unreachable"), "pagerduty")
    assert (a == b) is (fold == "grouped")
    rt.intake.ingest(pd_resolve("db-replica-101"), "pagerduty", "tester")
    if fold == "grouped":
        series = {s.key: s.firing for s in rt.incidents.alert_series(a)}
        assert len(series) == 2
        assert sorted(series.values()) == [False, True]
        assert rt.incidents.get(a).status is Status.DETECTED  # 202 still fires
    else:
        assert [s.firing for s in rt.incidents.alert_series(a)] == [False]
        assert [s.firing for s in rt.incidents.alert_series(b)] == [True]


def test_silenced_alert_still_firing_after_expiry_opens_an_incident(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Stored as silenced while the silence holds; the same delivery after the silence is
    expired is judged again (not a `duplicate`) and opens an incident."""
    from defib.silences import Matcher
    from defib.silences.service import SilenceDraft

    rt = make_runtime()
    now = datetime.now(UTC)
    silence = rt.silences.put(
        SilenceDraft(
            matchers=(Matcher("system", "chat-api"),),
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=1),
            created_by="alice",
            comment="maintenance",
        ),
        "alice",
        admin=True,
    )
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "defib",
        "groupKey": "g",
        "alerts": [
            {
                "status": "firing",
                "startsAt": "2026-12-07T10:00:00Z",
                "labels": {"alertname": "GroundednessDrop", "service": "chat-api"},
                "annotations": {"summary": "chat-api answers are not grounded"},
            }
        ],
    }
    (first,) = rt.intake.ingest(payload, None, "am")
    assert first.action is IngestAction.SILENCED
    (again,) = rt.intake.ingest(payload, None, "am")
    assert again.action is IngestAction.SILENCED  # still silenced: stored quiet again
    rt.silences.expire(silence.id, "alice")
    time.sleep(0.01)
    (after,) = rt.intake.ingest(payload, None, "am")
    assert after.action is IngestAction.CREATED, after
    assert after.incident_id is not None
