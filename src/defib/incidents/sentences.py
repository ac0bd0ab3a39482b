"""Pure: one sentence per timeline kind, the words `defib.incidents.story` tells with.

Each teller reads one event's data (and what earlier events said, in `StoryState`) and
returns (sentence, tone, whether it acted). A kind no teller knows still reads as its name
and the fields worth naming (`fallback_text`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from defib.events import TimelineKind as K

# Older names for four kinds (re-exported by incidents.story).
CONTAINMENT_WITHHELD = K.CONTAINMENT_WITHHELD
VERSION_MARKED = K.MODEL_VERSION_MARKED
STEP_APPROVED = K.STEP_APPROVED
STEP_REJECTED = K.STEP_REJECTED


class Tone(enum.StrEnum):
    """How a line reads at a glance (the console colours it, the CLI marks it)."""

    DONE = "done"  # something changed in the world as intended
    FAILED = "failed"
    WAITING = "waiting"  # a person is needed
    SKIPPED = "skipped"
    INFO = "info"  # bookkeeping: started, planned, sending


@dataclass
class StoryState:
    """What earlier events said, so later ones can name their "from"."""

    versions: dict[str, str] = field(default_factory=dict)
    disabled: dict[str, bool] = field(default_factory=dict)
    playbooks: dict[str, str] = field(default_factory=dict)  # run id -> playbook name


# A teller: one event's data and the story so far -> (sentence, tone, acted).
_Teller = Callable[[Mapping[str, Any], StoryState], tuple[str, Tone, bool]]


def text_of(value: Any) -> str:
    """A stored value inside a sentence: None reads as nothing."""
    return "" if value is None else str(value)


_s = text_of  # every teller quotes values; short name, one definition


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# An instant inside a sentence, as the console writes times before the viewer's browser puts
# them in its own zone: the console finds it by this format (`defib.web.render`).
UTC_TEXT = "%Y-%m-%d %H:%M:%S UTC"
# Joins a wait for approval to what approving lets the step do: the console shows the latter
# once, next to the buttons, and cuts it from the sentence there.
APPROVING = "; approving lets it "


def utc_text(value: Any) -> str:
    """An instant inside a sentence: `2026-12-08 01:00:00 UTC` (24-hour, zone named)."""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return _s(value)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime(UTC_TEXT)


def who(actor: str, playbooks: Mapping[str, str] | None = None) -> str:
    """A readable actor: `run:r1…` is "defib (playbook data_leak)", `system` is "defib"."""
    if actor.startswith("run:"):
        name = (playbooks or {}).get(actor[4:])
        return f"defib (playbook {name})" if name else "defib (playbook)"
    if actor in ("system", "defib"):
        return "defib"
    return actor


# -- one sentence per kind ----------------------------------------------------------------

_TRANSITIONS = {
    "acknowledge": "Acknowledged",
    "mitigate": "Mitigated",
    "resolve": "Resolved",
    "close": "Closed",
    "reopen": "Reopened",
}


def _created(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    alert = d.get("alert") if isinstance(d.get("alert"), Mapping) else {}
    systems = ", ".join(str(s) for s in d.get("systems") or []) or "no named system"
    head = f"Opened as {_s(d.get('type'))} {_s(d.get('severity'))} on {systems}"
    if d.get("how", "alert") == "alert" and alert:
        source = _s(alert.get("source")) or "an alert"
        title = _s(alert.get("title"))
        return f"{head} from {source}" + (f": {title}" if title else ""), Tone.INFO, True
    return f"{head} ({_s(d.get('how')) or 'by hand'})", Tone.INFO, True


def _transition(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    verb = _TRANSITIONS.get(_s(d.get("command")), "Moved")
    text = f"{verb} ({_s(d.get('from'))} → {_s(d.get('to'))})"
    if d.get("note"):
        text += f": {d['note']}"
    return text, Tone.DONE, True


def _from_to(label: str) -> _Teller:
    def tell(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
        before, after = _s(d.get("from")) or "(none)", _s(d.get("to")) or "(none)"
        return f"{label} {before} → {after}", Tone.DONE, True

    return tell


def _retyped(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    text = f"Type {_s(d.get('from'))} → {_s(d.get('to'))}"
    sev = d.get("severity")
    if isinstance(sev, Mapping) and sev.get("from") != sev.get("to"):
        text += f", severity {_s(sev.get('from'))} → {_s(sev.get('to'))}"
    if d.get("reason"):
        text += f": {d['reason']}"
    return text, Tone.DONE, True


def _alert_title(d: Mapping[str, Any]) -> str:
    inner = d.get("alert")
    title = (inner.get("title") if isinstance(inner, Mapping) else None) or d.get("title")
    return _s(title)


def _alert_merged(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    count = d.get("alert_count")
    text = "Another alert folded in"
    if d.get("source"):
        text += f" from {d['source']}"
    if _alert_title(d):
        text += f": {_alert_title(d)}"
    if count:
        text += f" ({_plural(count, 'alert')} in all)"
    return text, Tone.INFO, False


def _silence(verb: str) -> _Teller:
    def tell(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
        text = f"Silence {verb}: {_s(d.get('matchers'))}"
        if verb != "expired" and d.get("ends_at"):
            text += f" until {_s(d.get('ends_at'))}"
        if d.get("comment"):
            text += f" ({d['comment']})"
        return text, Tone.INFO, True

    return tell


def _system_changed(d: Mapping[str, Any], state: StoryState) -> tuple[str, Tone, bool]:
    system = _s(d.get("system")) or "a system"
    change = _s(d.get("change"))
    before = state.versions.get(system)
    if d.get("active_version"):
        state.versions[system] = _s(d.get("active_version"))
    if "disabled" in d:
        state.disabled[system] = bool(d.get("disabled"))
    if d.get("changed") is False:
        return f"{system}: no change ({change} was already in effect)", Tone.INFO, False
    if change == "disable":
        why = f": {d['reason']}" if d.get("reason") else ""
        return f"Disabled {system} (kill switch on){why}", Tone.DONE, True
    if change == "enable":
        return f"Re-enabled {system}", Tone.DONE, True
    if change == "route":
        to = _s(d.get("to_version"))
        if d.get("marked_bad"):
            return f"Rolled {system} back from {d['marked_bad']} to {to}", Tone.DONE, True
        return f"Routed {system} from {before or '(unknown)'} to {to}", Tone.DONE, True
    if change == "add_filters":
        added = d.get("added") or []
        what = ", ".join(
            _s(f.get("entity") or f.get("kind")) for f in added if isinstance(f, Mapping)
        )
        n = len(added) if isinstance(added, list) else "some"
        return (
            f"Added {_plural(n, 'output filter')} to {system}" + (f" ({what})" if what else ""),
            Tone.DONE,
            True,
        )
    if change == "remove_filters":
        return (
            f"Removed incident filters from {system} ({d.get('filters', 0)} left)",
            Tone.DONE,
            True,
        )
    if change == "replace_filters":
        return f"Replaced {system}'s output filters ({d.get('filters', 0)} now)", Tone.DONE, True
    asked = d.get("asked")
    parts = ", ".join(f"{k} {v}" for k, v in asked.items()) if isinstance(asked, Mapping) else ""
    return f"Changed {system}" + (f": {parts}" if parts else f" ({change})"), Tone.DONE, True


def _run_planned(d: Mapping[str, Any], state: StoryState) -> tuple[str, Tone, bool]:
    if d.get("run_id") and d.get("playbook"):
        state.playbooks[_s(d["run_id"])] = _s(d["playbook"])
    dry = " as a dry run" if d.get("dry_run") else ""
    return f"Planned playbook {_s(d.get('playbook'))}{dry}", Tone.INFO, False


def _run_started(d: Mapping[str, Any], state: StoryState) -> tuple[str, Tone, bool]:
    if d.get("run_id") and d.get("playbook"):
        state.playbooks[_s(d["run_id"])] = _s(d["playbook"])
    return f"Started playbook {_s(d.get('playbook'))}", Tone.INFO, False


def _run_finished(d: Mapping[str, Any], state: StoryState) -> tuple[str, Tone, bool]:
    name = state.playbooks.get(_s(d.get("run_id"))) or "the playbook"
    status = _s(d.get("status"))
    text = f"Playbook {name} ended {status.replace('_', ' ')}"
    if d.get("error") and status != "needs_attention":
        text += f": {d['error']}"
    tone = {"succeeded": Tone.DONE, "needs_attention": Tone.WAITING}.get(status, Tone.FAILED)
    return text, tone, status not in ("succeeded", "needs_attention")


def _needs_attention(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    reasons = d.get("reasons") or []
    joined = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else _s(reasons)
    return f"Needs attention: {joined or 'see the run'}", Tone.WAITING, True


def _step(d: Mapping[str, Any]) -> str:
    return _s(d.get("step") or d.get("action")) or "a step"


def _step_finished(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    status = _s(d.get("status"))
    step = _step(d)
    if status == "succeeded":
        return f"Step {step} done", Tone.INFO, False
    if status == "skipped":
        why = _s(d.get("reason")).removeprefix(f"{step}: ")
        return f"Skipped {step}" + (f": {why}" if why else ""), Tone.SKIPPED, True
    if status == "unverified":
        return f"{step} ended unverified: {_s(d.get('reason'))}", Tone.WAITING, True
    attempts = d.get("attempts")
    after = f" after {_plural(attempts, 'attempt')}" if attempts else ""
    return f"{step} {status.replace('_', ' ')}{after}: {_s(d.get('error'))}", Tone.FAILED, True


def _waiting_approval(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    text = f"{_step(d)} waits for approval by a {_s(d.get('role')) or 'responder'}"
    if d.get("deadline"):
        text += f" until {utc_text(d.get('deadline'))}"
    if d.get("asks"):
        text += APPROVING + _s(d["asks"]).removeprefix(_step(d) + ": ")
    return text, Tone.WAITING, True


def _decided(verb: str) -> _Teller:
    def tell(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
        text = f"{verb} {_step(d)}" + (f": {d['note']}" if d.get("note") else "")
        return text, Tone.DONE if verb == "Approved" else Tone.SKIPPED, True

    return tell


def _attempt_failed(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    text = f"{_step(d)} attempt {_s(d.get('attempt'))} failed: {_s(d.get('error'))}"
    if d.get("retry_in_seconds") is not None:
        text += f"; retrying in {float(d['retry_in_seconds']):.0f} s"
    return text, Tone.FAILED, False


def _notified(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    target, channel = _s(d.get("target")) or "someone", _s(d.get("channel"))
    if channel == "pagerduty":
        return f"Paged {target}", Tone.DONE, True
    by = f" by {channel}" if channel and not target.startswith(channel) else ""
    return f"Notified {target}{by}", Tone.DONE, True


def _notify_failed(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    target = _s(d.get("target")) or "someone"
    return f"Could not notify {target}: {_s(d.get('error') or d.get('reason'))}", Tone.FAILED, True


def _notify_skipped(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    # Acted only when it names whom: a whole step's skip has its own "Skipped" line.
    target = _s(d.get("target"))
    return f"Did not notify {target or 'anyone'}: {_s(d.get('reason'))}", Tone.SKIPPED, bool(target)


def _sending(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    return f"Sending to {_s(d.get('target')) or 'someone'}", Tone.INFO, False


def _evidence(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    items = d.get("items") or []
    names = ", ".join(_s(i.get("name")) for i in items if isinstance(i, Mapping))
    n = len(items) if isinstance(items, list) else 0
    return (
        f"Preserved {_plural(n, 'evidence item')}" + (f": {names}" if names else ""),
        Tone.DONE,
        True,
    )


def _impact(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    entities = d.get("entities") or {}
    kinds = (
        ", ".join(f"{k} {v}" for k, v in entities.items()) if isinstance(entities, Mapping) else ""
    )
    users = d.get("user_count", len(d.get("users") or []))
    found = d.get("scanned")
    scanned: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    text = (
        f"Assessed data impact: {_plural(d.get('records', 0), 'record')}, {_plural(users, 'user')}"
    )
    if kinds:
        text += f" ({kinds})"
    if scanned.get("captures") is not None:
        text += f" in {_plural(scanned['captures'], 'capture')} scanned"
    if d.get("truncated"):
        text += "; truncated, more may be affected"
    return text, Tone.DONE, True


def impact_text(data: Mapping[str, Any]) -> str:
    """An impact assessment in one sentence (counts only, never who or what leaked)."""
    return _impact(data, StoryState())[0].removeprefix("Assessed data impact: ")


def _rollback_planned(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    text = f"Chose to roll {_s(d.get('system'))} back from {_s(d.get('from'))} to {_s(d.get('to'))}"
    if d.get("why"):
        text += f" ({d['why']})"
    return text, Tone.INFO, False


def _control_failed(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    return (
        f"{_step(d)} could not change {_s(d.get('system'))}: {_s(d.get('error'))}",
        Tone.FAILED,
        True,
    )


def _withheld(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    # The step's own "skipped" line says the same and is the one "what was done" keeps.
    return f"Held back {_step(d)}: {_s(d.get('reason'))}", Tone.SKIPPED, False


def _verified(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    text = f"Verified: {_s(d.get('how')) or 'checks passed'}"
    if d.get("mitigated"):
        text += f"; {d['mitigated']}"
    unknown = d.get("unverified") or []
    if unknown:
        text += f"; not verified: {', '.join(str(u) for u in unknown)}"
    return text, Tone.DONE, True


def _verification_failed(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    problems: list[str] = []
    for r in d.get("results") or []:
        if isinstance(r, Mapping) and not r.get("ok", True):
            problems += [str(p) for p in r.get("problems") or []]
    text = "Verification failed"
    if problems:
        text += ": " + ", ".join(dict.fromkeys(problems))
    if d.get("kept_contained"):
        text += " (kept contained)"
    # One per attempt: the step's final "failed" line is what "what was done" keeps.
    return text, Tone.FAILED, False


def _unverified(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    # The step's own "ended unverified" line is the one "what was done" keeps.
    return f"Unverified: {_s(d.get('reason'))}; a person must confirm", Tone.WAITING, False


def _user(verb: str, tone: Tone) -> _Teller:
    def tell(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
        why = _s(d.get("reason") or d.get("error"))
        return (
            f"{verb} affected user {_s(d.get('user_id'))}" + (f": {why}" if why else ""),
            tone,
            True,
        )

    return tell


def _marked(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
    version = _s(d.get("version") or d.get("name"))
    return f"Marked {_s(d.get('system'))} {version} {_s(d.get('status'))}", Tone.DONE, True


def _simple(text: str, tone: Tone = Tone.INFO, acted: bool = False) -> _Teller:
    def tell(d: Mapping[str, Any], _: StoryState) -> tuple[str, Tone, bool]:
        return text.format_map(_Blank(d)), tone, acted

    return tell


class _Blank(dict[str, Any]):
    """format_map source where a missing key reads as nothing, not a KeyError."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)

    def __missing__(self, key: str) -> str:
        return ""


TELLERS: dict[str, _Teller] = {
    K.CREATED: _created,
    K.TRANSITION: _transition,
    K.NOTE: _simple("Note: {text}", Tone.INFO, True),
    K.SEVERITY_CHANGED: _from_to("Severity"),
    K.TITLE_CHANGED: _from_to("Title"),
    K.COMMANDER_CHANGED: _from_to("Commander"),
    K.DESCRIPTION_CHANGED: _simple("Changed the description", Tone.DONE, True),
    K.RETYPED: _retyped,
    K.TAXONOMY_CHANGED: _simple("Edited the taxonomy mapping", Tone.DONE, True),
    K.REVIEW_UPDATED: _simple("Updated the review", Tone.DONE, True),
    K.ALERT_MERGED: _alert_merged,
    K.ALERT_RESOLVED: _simple("The alert's source says it resolved"),
    K.ALERT_ACKNOWLEDGED: _simple("The alert was acknowledged at its source"),
    K.ALERT_INHIBITED: _simple("An alert was inhibited by this incident"),
    K.STORM_FOLDED: _simple("Folded alerts from a storm into this incident"),
    K.PAGERDUTY_RESOLVED: _simple("Resolved the PagerDuty incident", Tone.DONE, True),
    K.SILENCE_ADDED: _silence("added"),
    K.SILENCE_UPDATED: _silence("updated"),
    K.SILENCE_EXPIRED: _silence("expired"),
    K.SYSTEM_STATE_CHANGED: _system_changed,
    K.RUN_PLANNED: _run_planned,
    K.PLAYBOOK_DEFERRED: _simple("Deferred playbook {playbook}: {reason}"),
    K.RUN_STARTED: _run_started,
    K.RUN_FINISHED: _run_finished,
    K.RUN_NEEDS_ATTENTION: _needs_attention,
    K.RUN_CANCELLED: _simple("Cancelled the playbook run", Tone.SKIPPED, True),
    K.RUN_REDRIVEN: _simple("Restarted the playbook run"),
    K.RUN_STUCK: _simple("The playbook run looks stuck", Tone.FAILED, True),
    K.SLACK_APPROVAL_REQUESTED: _simple("Asked for approval of {step} in Slack"),
    K.STEP_STARTED: _simple("Step {step} started (attempt {attempt})"),
    K.STEP_FINISHED: _step_finished,
    K.STEP_WAITING_APPROVAL: _waiting_approval,
    STEP_APPROVED: _decided("Approved"),
    STEP_REJECTED: _decided("Rejected"),
    K.STEP_APPROVAL_TIMED_OUT: _simple(
        "Nobody decided {step} before its deadline", Tone.SKIPPED, True
    ),
    K.STEP_ATTEMPT_FAILED: _attempt_failed,
    K.STEP_RETRY_REQUESTED: _simple("Asked to retry {step}", Tone.DONE, True),
    K.STEP_NOTIFICATION_SENDING: _sending,
    K.STEP_NOTIFICATION_SENT: _notified,
    K.STEP_NOTIFICATION_FAILED: _notify_failed,
    K.STEP_NOTIFICATION_SKIPPED: _notify_skipped,
    K.STEP_EVIDENCE_COLLECTED: _evidence,
    K.STEP_IMPACT_ASSESSED: _impact,
    K.STEP_ROLLBACK_PLANNED: _rollback_planned,
    K.STEP_CONTROL_FAILED: _control_failed,
    K.STEP_CONTROL_SKIPPED: _simple("Skipped {step}: {reason}", Tone.SKIPPED, True),
    CONTAINMENT_WITHHELD: _withheld,
    K.STEP_VERIFIED: _verified,
    K.STEP_VERIFICATION_FAILED: _verification_failed,
    K.STEP_VERIFICATION_SKIPPED: _simple("Verification skipped: {reason}", Tone.SKIPPED, True),
    K.STEP_UNVERIFIED: _unverified,
    K.STEP_USER_NOTIFIED: _user("Told", Tone.DONE),
    K.STEP_USER_NOTIFICATION_FAILED: _user("Could not tell", Tone.FAILED),
    K.STEP_USER_NOT_NOTIFIABLE: _user("Could not tell", Tone.SKIPPED),
    K.STEP_CHECKLIST: _simple("Checklist for a person: {items}", Tone.WAITING, True),
    VERSION_MARKED: _marked,
}

# Fields worth naming for a kind this module does not know (a newer action's event).
_FALLBACK_KEYS = ("step", "system", "status", "target", "reason", "error", "note", "message")


def fallback_text(kind: str, d: Mapping[str, Any]) -> str:
    """The sentence for a kind no teller knows: its name and the fields worth naming."""
    words = kind.removeprefix("run_step_").removeprefix("run_").replace("_", " ")
    parts = [f"{k} {d[k]}" for k in _FALLBACK_KEYS if d.get(k) not in (None, "", [], {})]
    return words[:1].upper() + words[1:] + (": " + "; ".join(parts) if parts else "")
