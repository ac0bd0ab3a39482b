"""What must hold after a storm, checked on what was observed (pure, no I/O).

Violations fail the storm; figures describe it. Slack and SMTP ignore idempotency keys, so
their duplicates are counted and reported, not failed on: the engine narrows the window
(the intent is recorded before a send, the confirmation right after) but cannot close it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.drill.peers import Delivery, Mail
from bench.drill.schedule import approves
from bench.drill.world import PAGE_PATH

from defib.actions.escalate import PLAYBOOK_PREFIX
from defib.playbooks.engine.reconciler import RECONCILER_ACTOR

TERMINAL = {"succeeded", "needs_attention", "failed", "cancelled", "timed_out", "skipped"}
# A delivery this long after its step ended means the completed step ran again.
LATE_SLACK_SECONDS = 0.005
# A page arriving this long after its run wrote `paging_stopped` was sent after paging stopped.
PAGE_AFTER_STOP_SLACK_SECONDS = 0.01


@dataclass
class Observed:
    runs: list[dict[str, Any]]  # GET /api/v1/runs items
    incidents: int  # incidents the storm's alerts opened
    terminal_after: dict[str, float]  # run id -> seconds after the last restart, first seen ended
    timelines: dict[str, list[dict[str, Any]]]  # incident id -> events
    webhook: list[Delivery]
    slack: list[Delivery]
    pagerduty: list[Delivery]
    mails: list[Mail]
    active_versions: dict[str, str | None]  # system -> version the gateway serves
    decided_by: str  # the storm responder's token name


@dataclass
class Report:
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _ts(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value).timestamp()


def step_of(key: str) -> tuple[str, int] | None:
    """(run id, step index) of an effect key `<run>:<index>[:...]`."""
    parts = key.split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def repeats(keys: Iterable[str | None]) -> int:
    """Deliveries beyond the first of each key."""
    counts = Counter(k for k in keys if k)
    return sum(n - 1 for n in counts.values())


def approval_value(delivery: Delivery) -> str | None:
    """`<run>:<index>` of a Slack approval ask (its Approve button's value)."""
    try:
        body = delivery.json()
    except ValueError:
        return None
    for block in body.get("blocks", ()):
        for element in block.get("elements", ()) if block.get("type") == "actions" else ():
            if element.get("action_id", "").endswith("approve"):
                return str(element.get("value"))
    return None


def is_escalation(run: Mapping[str, Any]) -> bool:
    """An on-call escalation run (`oncall-<policy>`), planned next to the type's playbook."""
    return str(run["playbook"]).startswith(PLAYBOOK_PREFIX)


def is_page(delivery: Delivery) -> bool:
    return delivery.path.startswith(PAGE_PATH)


def check(seen: Observed) -> Report:
    report = Report()
    _terminal(seen, report)
    ended = {
        (run["id"], step["index"]): _ts(step["ended_at"])
        for run in seen.runs
        for step in run["steps"]
    }
    _timelines(seen, report)
    _webhooks(seen, report)
    _late(seen, ended, report)
    _notifications(seen, report)
    _approvals(seen, report)
    _rollbacks(seen, report)
    _pages(seen, report)
    return report


def _terminal(seen: Observed, report: Report) -> None:
    statuses = Counter(run["status"] for run in seen.runs)
    report.figures["runs"] = len(seen.runs)
    report.figures["run_statuses"] = dict(sorted(statuses.items()))
    steps = Counter(f"{s['action']}:{s['status']}" for run in seen.runs for s in run["steps"])
    report.figures["step_statuses"] = dict(sorted(steps.items()))
    # Each incident runs its type's playbook and, when the world pages (the storm's does,
    # for every severity), one escalation run.
    playbooks = [run for run in seen.runs if not is_escalation(run)]
    escalations = Counter(run["incident_id"] for run in seen.runs if is_escalation(run))
    report.figures["escalation_runs"] = sum(escalations.values())
    if len(playbooks) != seen.incidents:
        report.violations.append(
            f"{seen.incidents} incidents opened but {len(playbooks)} playbook runs"
        )
    per_incident = Counter(run["incident_id"] for run in playbooks)
    for inc, n in per_incident.items():
        if n > 1:
            report.violations.append(f"{inc}: {n} runs (one expected)")
        if escalations and escalations[inc] != 1:
            report.violations.append(f"{inc}: {escalations[inc]} escalation runs (one expected)")
    for run in seen.runs:
        if run["status"] not in TERMINAL:
            steps_ = [s["status"] for s in run["steps"]]
            report.violations.append(f"run {run['id']} never ended: {run['status']} {steps_}")
    after = [seen.terminal_after[r["id"]] for r in seen.runs if r["id"] in seen.terminal_after]
    report.figures["max_seconds_to_terminal_after_last_restart"] = round(max(after, default=0), 1)
    failures = Counter(
        f"{run['playbook']}.{s['name']}: {(s['error'] or '')[:120]}"
        for run in seen.runs
        for s in run["steps"]
        if s["status"] in ("failed", "timed_out")
    )
    report.figures["step_failures"] = dict(sorted(failures.items()))
    # The reconciler's failures read "reconciled: <why>" (playbooks/reconciler.py).
    reconciled = [r for r in seen.runs if (r.get("error") or "").startswith("reconciled:")]
    report.figures["runs_failed_by_reconciler"] = len(reconciled)


def _timelines(seen: Observed, report: Report) -> None:
    for run in seen.runs:
        timeline = seen.timelines.get(run["incident_id"], ())
        events = [e for e in timeline if e["actor"] == f"run:{run['id']}"]
        kinds = Counter(e["kind"] for e in events)
        # A run the reconciler failed is finished by it, under its own actor.
        kinds["run_finished"] += sum(
            1
            for e in timeline
            if e["actor"] == RECONCILER_ACTOR
            and e["kind"] == "run_finished"
            and e["data"].get("run_id") == run["id"]
        )
        if run["status"] in TERMINAL and kinds["run_finished"] != 1:
            report.violations.append(
                f"run {run['id']}: {kinds['run_finished']} run_finished events"
            )
        finished = Counter(
            e["data"].get("index") for e in events if e["kind"] == "run_step_finished"
        )
        for index, n in finished.items():
            if n > 1:
                report.violations.append(f"run {run['id']} step {index}: finished {n} times")


def _webhooks(seen: Observed, report: Report) -> None:
    # Pages share the receiver; `_pages` checks them.
    accepted = [d for d in seen.webhook if 200 <= d.status < 300 and not is_page(d)]
    effects = Counter(d.key for d in accepted if d.key)
    for run in seen.runs:
        for step in run["steps"]:
            if step["action"] != "webhook":
                continue
            key = f"{run['id']}:{step['index']}"
            if step["status"] == "succeeded" and key not in effects:
                report.violations.append(f"webhook {key} succeeded but never reached its receiver")
            if step["status"] == "skipped" and effects[key]:
                report.violations.append(f"webhook {key} was skipped (rejected) but delivered")
    # A key is the step's identity: one step must never send under two keys.
    per_step: dict[tuple[str, int, str], set[str]] = defaultdict(set)
    for d in accepted:
        where = step_of(d.key or "")
        if where is not None and d.key is not None:
            per_step[(*where, d.path)].add(d.key)
    for (run_id, index, path), keys in per_step.items():
        if len(keys) > 1:
            report.violations.append(f"run {run_id} step {index} sent {path} under keys {keys}")
    report.figures["webhook"] = {
        "deliveries": sum(1 for d in seen.webhook if not is_page(d)),
        "refused_on_purpose": sum(1 for d in seen.webhook if d.status >= 500),
        "keys": len(effects),
        "effects_per_key_max": 1 if effects else 0,  # the receiver applies a key once
        "redeliveries_deduplicated": repeats(d.key for d in accepted),
    }


def _late(seen: Observed, ended: Mapping[tuple[str, int], float | None], report: Report) -> None:
    """A keyed delivery after its step ended: a completed step ran again."""
    keyed: list[tuple[str, str, float]] = [
        (name, d.key, d.at)
        for name, ds in (
            ("webhook", seen.webhook),
            ("slack", seen.slack),
            ("pagerduty", seen.pagerduty),
        )
        for d in ds
        if d.key
    ]
    keyed += [("email", m.key, m.at) for m in seen.mails if m.key]
    for channel, key, at in keyed:
        where = step_of(key)
        end = ended.get(where) if where is not None else None
        if end is not None and at > end + LATE_SLACK_SECONDS:
            report.violations.append(
                f"{channel} {key} delivered {at - end:.3f} s after its step ended"
            )


def _notifications(seen: Observed, report: Report) -> None:
    received: dict[str, set[str]] = {
        "webhook": {d.key for d in seen.webhook if d.key and d.status < 300},
        "slack": {d.key for d in seen.slack if d.key},
        "pagerduty": {d.key for d in seen.pagerduty if d.key},
        "email": {m.key for m in seen.mails if m.key},
    }
    sent = [
        e["data"]
        for events in seen.timelines.values()
        for e in events
        if e["kind"] == "run_step_notification_sent" and not e["data"].get("already")
    ]
    for data in sent:
        channel, key = data.get("channel"), data.get("idempotency_key")
        if channel in received and key not in received[channel]:
            report.violations.append(f"{channel} {key}: on the timeline as sent, never received")
    in_doubt = Counter(d.get("channel") for d in sent if d.get("in_doubt"))
    doubted = {(d.get("channel"), d.get("idempotency_key")) for d in sent if d.get("in_doubt")}
    asks = [approval_value(d) for d in seen.slack if not d.key]
    report.figures["slack"] = {
        "messages": sum(1 for d in seen.slack if d.key),
        "keys": len(received["slack"]),
        "duplicates": repeats(d.key for d in seen.slack),
        "resent_in_doubt": in_doubt["slack"],
        # A repeat the timeline does not flag breaks the in_doubt promise (docs/engine.md).
        "duplicates_not_in_doubt": _unflagged(
            "slack", Counter(d.key for d in seen.slack if d.key), doubted
        ),
        "approval_asks": len(asks),
        "approval_ask_duplicates": repeats(asks),
    }
    report.figures["email"] = {
        "messages": len(seen.mails),
        "message_ids": len({m.message_id for m in seen.mails}),
        "duplicates": repeats(m.message_id for m in seen.mails),
        "resent_in_doubt": in_doubt["email"],
        "duplicates_not_in_doubt": _unflagged(
            "email", Counter(m.key for m in seen.mails if m.key), doubted
        ),
    }
    alerts = Counter(str(d.json().get("dedup_key")) for d in seen.pagerduty)
    report.figures["pagerduty"] = {
        "events": len(seen.pagerduty),
        "keys": len(received["pagerduty"]),
        "redeliveries_deduplicated": repeats(d.key for d in seen.pagerduty),
        "alerts_by_dedup_key": len(alerts),
    }


def _unflagged(
    channel: str, counts: Counter[str | None], doubted: set[tuple[Any, Any]]
) -> list[str]:
    return sorted(str(k) for k, n in counts.items() if n > 1 and (channel, k) not in doubted)


def _approvals(seen: Observed, report: Report) -> None:
    decided = Counter[str]()
    for run in seen.runs:
        events = seen.timelines.get(run["incident_id"], ())
        for step in run["steps"]:
            approval = step.get("approval")
            if not approval or approval.get("by") != seen.decided_by:
                continue
            key = f"{run['id']}:{step['index']}"
            want = "approve" if approves(key) else "reject"
            decided[approval["decision"]] += 1
            if approval["decision"] != want:
                report.violations.append(f"{key}: {approval['decision']}, the storm said {want}")
            n = sum(
                1
                for e in events
                if e["kind"] in ("run_step_approved", "run_step_rejected")
                and e["actor"] == seen.decided_by
                and e["data"].get("run_id") == run["id"]
                and e["data"].get("index") == step["index"]
            )
            if n != 1:
                report.violations.append(f"{key}: the decision is on the timeline {n} times")
    report.figures["approvals"] = dict(sorted(decided.items()))


def _rollbacks(seen: Observed, report: Report) -> None:
    done = 0
    for run in seen.runs:
        events = seen.timelines.get(run["incident_id"], ())
        planned = Counter(
            e["data"].get("system") for e in events if e["kind"] == "run_step_rollback_planned"
        )
        for system, n in planned.items():
            if n != 1:
                report.violations.append(f"{system}: rollback planned {n} times")
        for step in run["steps"]:
            if step["action"] == "rollback_model" and step["status"] == "succeeded":
                done += 1
                for system in planned:
                    if seen.active_versions.get(system) != "v1":
                        report.violations.append(
                            f"{system}: rolled back, serves {seen.active_versions.get(system)}"
                        )
    report.figures["rollbacks"] = done


def _pages(seen: Observed, report: Report) -> None:
    """Each page key is delivered exactly once (the receiver honours its Idempotency-Key, as
    a person's phone app or bridge should; deliveries beyond the first of a key, a kill
    between the send and its record, are counted), every page on the timeline reached the
    receiver, and nothing arrives after paging stopped (the incident was acknowledged,
    mitigated or resolved: the storm's playbooks mitigate)."""
    pages = [d for d in seen.webhook if is_page(d)]
    first_at: dict[str, float] = {}
    for d in pages:
        if d.key is None:
            report.violations.append(f"page to {d.path} without an Idempotency-Key")
        elif 200 <= d.status < 300:
            first_at[d.key] = min(first_at.get(d.key, d.at), d.at)
    recorded: Counter[str] = Counter()
    stopped: dict[str, float] = {}  # incident -> when its escalation run stopped paging
    for inc, events in seen.timelines.items():
        for e in events:
            if e["kind"] == "page_sent" and not e["data"].get("already"):
                recorded[str(e["data"].get("idempotency_key"))] += 1
            elif e["kind"] == "paging_stopped":
                at = _ts(e["at"])
                if at is not None:
                    stopped[inc] = min(stopped.get(inc, at), at)
    for key, n in recorded.items():
        if n != 1:
            report.violations.append(f"page {key}: on the timeline as sent {n} times")
        if key not in first_at:
            report.violations.append(f"page {key}: on the timeline as sent, never received")
    late = 0
    for key, at in first_at.items():
        inc = key.split(":", 1)[0]
        if inc in stopped and at > stopped[inc] + PAGE_AFTER_STOP_SLACK_SECONDS:
            late += 1
            report.violations.append(
                f"page {key} arrived {at - stopped[inc]:.3f} s after paging stopped"
            )
    levels = Counter(":".join(key.split(":")[3:5]) for key in first_at)
    report.figures["pages"] = {
        "deliveries": len(pages),
        "keys": len(first_at),
        "redeliveries_deduplicated": repeats(d.key for d in pages),
        "received_not_on_timeline": len(set(first_at) - set(recorded)),
        "by_level_repeat": dict(sorted(levels.items())),
        "runs_stopped_by_ack_or_mitigation": len(stopped),
        "after_stop": late,
    }


def render(report: Report, header: Sequence[str] = ()) -> str:
    lines = list(header)
    for name, value in report.figures.items():
        shown = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
        lines.append(f"  {name}: {shown}")
    lines.append(f"  violations: {len(report.violations)}")
    lines += [f"    - {v}" for v in report.violations[:50]]
    return "\n".join(lines)
