"""Text views of an alert: the normalised strings rules and the backstop look at."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from defib.model import Alert

# Written to start with a character class or literal: sre scans for those quickly, while a
# leading lookbehind is tried at every position.
_CAMEL_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_ACRONYM = re.compile(r"([A-Z])([A-Z][a-z])")
_DOTTED = re.compile(r"\.(?<=[A-Za-z]\.)(?=[A-Za-z])")
_URLISH = re.compile(r"https?://\S+")
_SUMMARY_KEYS = ("summary", "title", "message")
_SKIP_ANNOTATIONS = frozenset(
    {
        "summary",
        "title",
        "description",
        "message",
        "runbook_url",
        "runbook",
        "dashboard",
        "value",
        "threshold",
    }
)
# PagerDuty's `source`/`component` labels are system names, like `service` elsewhere: names
# of systems are not evidence of what went wrong with them.
_SKIP_CONTEXT_LABELS = frozenset({"alertname", "severity", "source", "component"})

# A consequence the alert only foresees ("may cause request failures", "risk of OOM kill if
# usage keeps growing", "imminent OOM or request failures expected") is not what it
# measured: a saturated KV cache that *may* make requests fail is still a performance
# alert. Matched on normalised text, from the hedge to the end of its sentence.
_HYPOTHETICAL = re.compile(
    r"\b(?:(?:may|might|could|can|would|will) (?:potentially |eventually |also |soon )?"
    r"(?:cause|lead to|result in|trigger|become)"
    r"|(?:increases? (?:the )?)?risk of|at risk of|in danger of|imminent|(?:is |are )?expected to"
    r"|if (?:\w+ ){0,4}(?:continues?|keeps?|persists?)|before (?:this|it) escalates)\b[^.;!?\n]*"
)


def drop_hypotheticals(text: str) -> str:
    """`text` (normalised) without the consequences it only foresees."""
    if not text:
        return text
    return _HYPOTHETICAL.sub(" ", text)


def normalise_text(text: str) -> str:
    """Lowercase words from identifiers: `LLMScoreLow` → `llm score low`, `a.b_c` → `a b c`.

    Line by line, each line remembered: no pattern crosses a newline, so this is the same
    as normalising the whole text, and the lines alerts share (summaries, descriptions,
    most labels) are normalised once, not per alert (issue 15).
    """
    if not text:
        return ""
    if "\n" in text:
        return "\n".join([_normalise_line(line) for line in text.split("\n")])
    return _normalise_line(text)


@functools.lru_cache(maxsize=8192)
def _normalise_line(text: str) -> str:
    if not text:
        return ""
    if "://" in text:
        text = _URLISH.sub(" ", text)
    text = _CAMEL_LOWER_UPPER.sub(r"\1 \2", text)
    text = _CAMEL_ACRONYM.sub(r"\1 \2", text)
    text = _DOTTED.sub(" ", text)
    return text.replace("_", " ").lower()


class AlertView:
    """The texts rules look at, normalised once per alert."""

    __slots__ = ("_cache", "alert", "body", "context", "headline", "text")

    def __init__(self, alert: Alert, system_labels: Iterable[str]) -> None:
        self.alert = alert
        ann = alert.annotations
        labels = alert.labels
        head = [alert.title]
        alertname = labels.get("alertname")
        if alertname and alertname != alert.title:
            head.append(alertname)
        head.extend(ann[k] for k in _SUMMARY_KEYS if ann.get(k))
        if alert.signal:
            head.append(alert.signal)
        body = [alert.description]
        body.extend(
            v
            for k, v in ann.items()
            if k not in _SKIP_ANNOTATIONS and not k.endswith("url") and v != alert.description
        )
        skip = _SKIP_CONTEXT_LABELS.union(system_labels)
        context = [alert.source]
        context.extend(f"{k} {v}" for k, v in labels.items() if k not in skip)
        self.headline = normalise_text("\n".join(head))
        self.body = drop_hypotheticals(normalise_text("\n".join(body)))
        self.context = normalise_text("\n".join(context))
        self.text = f"{self.headline}\n{self.body}\n{self.context}"
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name == "text":
            return self.text
        if name == "headline":
            return self.headline
        if name == "body":
            return self.body
        cached = self._cache.get(name)
        if cached is None:
            cached = self._cache[name] = self._compute(name)
        return cached

    def _compute(self, name: str) -> str:
        a = self.alert
        if name == "title":
            return normalise_text(a.title)
        if name == "alertname":
            return normalise_text(a.labels.get("alertname") or a.title)
        if name == "description":
            return normalise_text(a.description)
        if name == "signal":
            return normalise_text(a.signal or "")
        if name == "source":
            return a.source.lower()
        if name == "severity":
            return (a.severity or "").lower()
        if name == "format":
            return a.format
        if name.startswith("labels."):
            return a.labels.get(name[7:], "")
        if name.startswith("annotations."):
            return a.annotations.get(name[12:], "")
        return ""


_View = AlertView  # the name tests and older callers use
