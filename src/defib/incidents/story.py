"""Pure: an incident's timeline told in sentences a person reads at 3 a.m.

The console, `defib timeline` and the postmortem all tell the story from here, so they say
the same thing: "Rolled support-bot back from v2 to v1", "Notified security by slack",
"Verified: 1 captured sample(s) replayed clean (pii); marked mitigated". Each event gets
one sentence (what changed, from → to where there is a before) and a readable actor.

Events are read in the order they happened: a system's state change names the version it
left only because an earlier event said which version was active.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from defib.events import TimelineKind as K

# Kinds actions write that the enum does not name (yet): compared as their stored strings.
CONTAINMENT_WITHHELD = "containment_withheld"
VERSION_MARKED = "model_version_marked"
STEP_APPROVED = "run_step_approved"
STEP_REJECTED = "run_step_rejected"
MAX_TEXT = 600


class Tone(enum.StrEnum):
    """How a line reads at a glance (the console colours it, the CLI marks it)."""

    DONE = "done"  # something changed in the world as intended
    FAILED = "failed"
    WAITING = "waiting"  # a person is needed
    SKIPPED = "skipped"
    INFO = "info"  # bookkeeping: started, planned, sending


@dataclass(frozen=True, slots=True)
class Event:
    """What the story reads of one timeline event (stored row or the API's JSON)."""

    at: datetime
    actor: str
    kind: str
    data: Mapping[str, Any]

    @classmethod
    def of(cls, raw: Any) -> Event:
        """From a `TimelineEvent`-like object or a mapping with `at` as ISO-8601 text."""
        if isinstance(raw, Mapping):
            at, actor, kind, data = raw["at"], raw["actor"], raw["kind"], raw.get("data")
        else:
            at, actor, kind, data = raw.at, raw.actor, raw.kind, raw.data
        if isinstance(at, str):
            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return cls(at, str(actor), str(kind), data if isinstance(data, Mapping) else {})


@dataclass(frozen=True, slots=True)
class Line:
    """One event told: when, who (readable), the sentence, and whether it acted."""

    at: datetime
    actor: str
    text: str
    tone: Tone
    kind: str
    # True for what changed the incident or the world (the "what defib did" list);
    # False for bookkeeping (a step started, a notice being sent).
    acted: bool
    raw_actor: str = ""
    step: str | None = None  # the playbook step it is about, if any (the run card's lines)


@dataclass
class _State:
    """What earlier events said, so later ones can name their "from"."""

    versions: dict[str, str] = field(default_factory=dict)
    disabled: dict[str, bool] = field(default_factory=dict)
    playbooks: dict[str, str] = field(default_factory=dict)  # run id -> playbook name


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def utc_text(value: Any) -> str:
    """An instant inside a sentence: `2026-12-08 01:00 UTC` (24-hour, zone named)."""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return _s(value)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


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


def _created(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    alert = d.get("alert") if isinstance(d.get("alert"), Mapping) else {}
    systems = ", ".join(str(s) for s in d.get("systems") or []) or "no named system"
    head = f"Opened as {_s(d.get('type'))} {_s(d.get('severity'))} on {systems}"
    if d.get("how", "alert") == "alert" and alert:
        source = _s(alert.get("source")) or "an alert"
        title = _s(alert.get("title"))
        return f"{head} from {source}" + (f": {title}" if title else ""), Tone.INFO, True
    return f"{head} ({_s(d.get('how')) or 'by hand'})", Tone.INFO, True


def _transition(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    verb = _TRANSITIONS.get(_s(d.get("command")), "Moved")
    text = f"{verb} ({_s(d.get('from'))} → {_s(d.get('to'))})"
    if d.get("note"):
        text += f": {d['note']}"
    return text, Tone.DONE, True


def _from_to(label: str) -> Callable[[Mapping[str, Any], _State], tuple[str, Tone, bool]]:
    def tell(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
        before, after = _s(d.get("from")) or "(none)", _s(d.get("to")) or "(none)"
        return f"{label} {before} → {after}", Tone.DONE, True

    return tell


def _retyped(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
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


def _alert_merged(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    count = d.get("alert_count")
    text = "Another alert folded in"
    if d.get("source"):
        text += f" from {d['source']}"
    if _alert_title(d):
        text += f": {_alert_title(d)}"
    if count:
        text += f" ({_plural(count, 'alert')} in all)"
    return text, Tone.INFO, False


def _silence(verb: str) -> Callable[[Mapping[str, Any], _State], tuple[str, Tone, bool]]:
    def tell(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
        text = f"Silence {verb}: {_s(d.get('matchers'))}"
        if verb != "expired" and d.get("ends_at"):
            text += f" until {_s(d.get('ends_at'))}"
        if d.get("comment"):
            text += f" ({d['comment']})"
        return text, Tone.INFO, True

    return tell


def _system_changed(d: Mapping[str, Any], state: _State) -> tuple[str, Tone, bool]:
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


def _run_planned(d: Mapping[str, Any], state: _State) -> tuple[str, Tone, bool]:
    if d.get("run_id") and d.get("playbook"):
        state.playbooks[_s(d["run_id"])] = _s(d["playbook"])
    dry = " as a dry run" if d.get("dry_run") else ""
    return f"Planned playbook {_s(d.get('playbook'))}{dry}", Tone.INFO, False


def _run_started(d: Mapping[str, Any], state: _State) -> tuple[str, Tone, bool]:
    if d.get("run_id") and d.get("playbook"):
        state.playbooks[_s(d["run_id"])] = _s(d["playbook"])
    return f"Started playbook {_s(d.get('playbook'))}", Tone.INFO, False


def _run_finished(d: Mapping[str, Any], state: _State) -> tuple[str, Tone, bool]:
    name = state.playbooks.get(_s(d.get("run_id"))) or "the playbook"
    status = _s(d.get("status"))
    text = f"Playbook {name} ended {status.replace('_', ' ')}"
    if d.get("error") and status != "needs_attention":
        text += f": {d['error']}"
    tone = {"succeeded": Tone.DONE, "needs_attention": Tone.WAITING}.get(status, Tone.FAILED)
    return text, tone, status not in ("succeeded", "needs_attention")


def _needs_attention(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    reasons = d.get("reasons") or []
    joined = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else _s(reasons)
    return f"Needs attention: {joined or 'see the run'}", Tone.WAITING, True


def _step(d: Mapping[str, Any]) -> str:
    return _s(d.get("step") or d.get("action")) or "a step"


def _step_finished(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
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


def _waiting_approval(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    text = f"{_step(d)} waits for approval by a {_s(d.get('role')) or 'responder'}"
    if d.get("deadline"):
        text += f" until {utc_text(d.get('deadline'))}"
    if d.get("asks"):
        text += f"; approving lets it {_s(d['asks']).removeprefix(_step(d) + ': ')}"
    return text, Tone.WAITING, True


def _decided(verb: str) -> Callable[[Mapping[str, Any], _State], tuple[str, Tone, bool]]:
    def tell(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
        text = f"{verb} {_step(d)}" + (f": {d['note']}" if d.get("note") else "")
        return text, Tone.DONE if verb == "Approved" else Tone.SKIPPED, True

    return tell


def _attempt_failed(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    text = f"{_step(d)} attempt {_s(d.get('attempt'))} failed: {_s(d.get('error'))}"
    if d.get("retry_in_seconds") is not None:
        text += f"; retrying in {float(d['retry_in_seconds']):.0f} s"
    return text, Tone.FAILED, False


def _notified(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    target, channel = _s(d.get("target")) or "someone", _s(d.get("channel"))
    if channel == "pagerduty":
        return f"Paged {target}", Tone.DONE, True
    by = f" by {channel}" if channel and not target.startswith(channel) else ""
    return f"Notified {target}{by}", Tone.DONE, True


def _notify_failed(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    target = _s(d.get("target")) or "someone"
    return f"Could not notify {target}: {_s(d.get('error') or d.get('reason'))}", Tone.FAILED, True


def _notify_skipped(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    # Acted only when it names whom: a whole step's skip has its own "Skipped" line.
    target = _s(d.get("target"))
    return f"Did not notify {target or 'anyone'}: {_s(d.get('reason'))}", Tone.SKIPPED, bool(target)


def _sending(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    return f"Sending to {_s(d.get('target')) or 'someone'}", Tone.INFO, False


def _evidence(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    items = d.get("items") or []
    names = ", ".join(_s(i.get("name")) for i in items if isinstance(i, Mapping))
    n = len(items) if isinstance(items, list) else 0
    return (
        f"Preserved {_plural(n, 'evidence item')}" + (f": {names}" if names else ""),
        Tone.DONE,
        True,
    )


def _impact(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
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
    return _impact(data, _State())[0].removeprefix("Assessed data impact: ")


def _rollback_planned(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    text = f"Chose to roll {_s(d.get('system'))} back from {_s(d.get('from'))} to {_s(d.get('to'))}"
    if d.get("why"):
        text += f" ({d['why']})"
    return text, Tone.INFO, False


def _control_failed(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    return (
        f"{_step(d)} could not change {_s(d.get('system'))}: {_s(d.get('error'))}",
        Tone.FAILED,
        True,
    )


def _withheld(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    # The step's own "skipped" line says the same and is the one "what was done" keeps.
    return f"Held back {_step(d)}: {_s(d.get('reason'))}", Tone.SKIPPED, False


def _verified(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    text = f"Verified: {_s(d.get('how')) or 'checks passed'}"
    if d.get("mitigated"):
        text += f"; {d['mitigated']}"
    unknown = d.get("unverified") or []
    if unknown:
        text += f"; not verified: {', '.join(str(u) for u in unknown)}"
    return text, Tone.DONE, True


def _verification_failed(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
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


def _unverified(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    # The step's own "ended unverified" line is the one "what was done" keeps.
    return f"Unverified: {_s(d.get('reason'))}; a person must confirm", Tone.WAITING, False


def _user(verb: str, tone: Tone) -> Callable[[Mapping[str, Any], _State], tuple[str, Tone, bool]]:
    def tell(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
        why = _s(d.get("reason") or d.get("error"))
        return (
            f"{verb} affected user {_s(d.get('user_id'))}" + (f": {why}" if why else ""),
            tone,
            True,
        )

    return tell


def _marked(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
    version = _s(d.get("version") or d.get("name"))
    return f"Marked {_s(d.get('system'))} {version} {_s(d.get('status'))}", Tone.DONE, True


_Teller = Callable[[Mapping[str, Any], _State], tuple[str, Tone, bool]]


def _simple(text: str, tone: Tone = Tone.INFO, acted: bool = False) -> _Teller:
    def tell(d: Mapping[str, Any], _: _State) -> tuple[str, Tone, bool]:
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


def _fallback(kind: str, d: Mapping[str, Any]) -> str:
    words = kind.removeprefix("run_step_").removeprefix("run_").replace("_", " ")
    parts = [f"{k} {d[k]}" for k in _FALLBACK_KEYS if d.get(k) not in (None, "", [], {})]
    return words[:1].upper() + words[1:] + (": " + "; ".join(parts) if parts else "")


def tell(events: Iterable[Any]) -> list[Line]:
    """Every event as a line, in the order given (give them oldest first)."""
    state = _State()
    lines: list[Line] = []
    # The step each run is in: a state change a step makes names its system, not its step.
    current: dict[str, str] = {}
    for raw in events:
        event = raw if isinstance(raw, Event) else Event.of(raw)
        if event.kind == K.STEP_STARTED and event.data.get("step"):
            current[event.actor] = _s(event.data["step"])
        teller = TELLERS.get(event.kind)
        if teller is None:
            text, tone, acted = _fallback(event.kind, event.data), Tone.INFO, False
        else:
            text, tone, acted = teller(event.data, state)
        lines.append(
            Line(
                at=event.at,
                actor=who(event.actor, state.playbooks),
                text=_clip(text),
                tone=tone,
                kind=event.kind,
                acted=acted,
                raw_actor=event.actor,
                step=_s(event.data.get("step")) or current.get(event.actor),
            )
        )
        if event.kind in _DECIDED:
            _settle_wait(lines, _s(event.data.get("run_id")), _s(event.data.get("step")))
    return lines


# A wait for approval ends with one of these; the wait then reads as history, not a to-do.
_DECIDED = frozenset({STEP_APPROVED, STEP_REJECTED, K.STEP_APPROVAL_TIMED_OUT})


def _settle_wait(lines: list[Line], run_id: str, step: str) -> None:
    for i, line in enumerate(lines):
        if (
            line.kind == K.STEP_WAITING_APPROVAL
            and line.tone is Tone.WAITING
            and line.step == step
            and (not run_id or line.raw_actor == f"run:{run_id}")
        ):
            lines[i] = dataclasses.replace(line, tone=Tone.INFO)


# Per-user lines, folded into one line per run of them in "what was done".
_PER_USER = frozenset(
    {K.STEP_USER_NOTIFIED, K.STEP_USER_NOTIFICATION_FAILED, K.STEP_USER_NOT_NOTIFIABLE}
)


def what_was_done(lines: Sequence[Line]) -> list[Line]:
    """The lines that acted: what defib and people did, without the bookkeeping; a run of
    per-user notices of one kind reads as one line ("Could not tell 4 affected users")."""
    out: list[Line] = []
    run: list[Line] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            verb = run[0].text.split(" affected user ")[0]
            reasons = {line.text.partition(": ")[2] for line in run}
            why = f": {reasons.pop()}" if len(reasons) == 1 and "" not in reasons else ""
            text = f"{verb} {len(run)} affected users{why}"
            out.append(dataclasses.replace(run[0], text=text))
        run.clear()

    for line in lines:
        if not line.acted:
            continue
        if line.kind in _PER_USER and (not run or run[0].kind == line.kind):
            run.append(line)
            continue
        flush()
        if line.kind in _PER_USER:
            run.append(line)
        else:
            out.append(line)
    flush()
    return out


# -- what waits for a person --------------------------------------------------------------


class AskKind(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    APPROVE = "approve"
    ATTENTION = "attention"
    FAILED = "failed"
    UNVERIFIED = "unverified"
    TRIAGE = "triage"


@dataclass(frozen=True, slots=True)
class Ask:
    """Something that waits for a person, with where its button is."""

    kind: AskKind
    text: str
    run_id: str | None = None
    step_index: int | None = None


def waiting_for_you(*, status: str, needs_triage: bool, runs: Iterable[Any]) -> list[Ask]:
    """What the incident wants from a person now, most urgent first.

    `runs` are `Run`-like objects (status, steps with status/name/index/output, error).
    """
    asks: list[Ask] = []
    for run in runs:
        if getattr(run, "dry_run", False):
            continue
        for step in run.steps:
            if step.status == "waiting_approval":
                asks.append(
                    Ask(AskKind.APPROVE, f"Approve or reject {step.name}", run.id, step.index)
                )
            elif step.status == "unverified":
                # The stored reason ends with how to confirm from the CLI; the page has the button.
                reason = _s((step.output or {}).get("reason")).split(". Confirm with")[0]
                reason = reason.removeprefix("nothing proves the failure gone: ")
                asks.append(
                    Ask(
                        AskKind.UNVERIFIED,
                        f"{step.name} is unverified"
                        + (f": {reason}" if reason else "")
                        + ". Check the fix, then mark the incident mitigated",
                        run.id,
                        step.index,
                    )
                )
        if run.status == "needs_attention" and run.error:
            asks.append(Ask(AskKind.ATTENTION, f"Playbook {run.playbook}: {run.error}", run.id))
        elif run.status in ("failed", "timed_out") and status not in ("resolved", "closed"):
            why = f": {run.error}" if run.error else ""
            asks.append(
                Ask(
                    AskKind.FAILED,
                    f"Playbook {run.playbook} {run.status.replace('_', ' ')}{why};"
                    " retry the step or act by hand",
                    run.id,
                )
            )
    if needs_triage and status not in ("resolved", "closed"):
        asks.append(Ask(AskKind.TRIAGE, "Confirm the type defib guessed, or retype it"))
    if status == "detected":
        asks.insert(0, Ask(AskKind.ACKNOWLEDGE, "Acknowledge it: nobody has yet"))
    return asks


# -- the incident list's order -------------------------------------------------------------


def urgency_key(
    *, status: str, severity: str, detected_at: datetime, waiting: bool
) -> tuple[int, int, int, float]:
    """Sort key, smallest first: unacknowledged SEV1, then anything waiting for a person,
    then open by severity (a mitigated one after one still burning) and age (oldest
    first), then the resolved and closed ones, newest first."""
    rank = int(severity[-1]) if severity[-1:].isdigit() else 9
    age = detected_at.timestamp()
    if status in ("resolved", "closed"):
        return (3, 0, 0, -age)
    if status == "detected" and rank == 1:
        return (0, rank, 0, age)
    if waiting or status == "detected":
        return (1, rank, 0, age)
    return (2, rank, int(status == "mitigated"), age)
