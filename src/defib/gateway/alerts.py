"""Native alerts the gateway raises from inline detection, and their rate limits (pure).

Each alert carries what the corroboration gate (`defib.systems.corroboration`) needs to judge it
without trusting any one client: which client keys the flagged requests came from, how
many came from keyed clients, and how many were flagged on output the client did not
supply itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from defib.detectors import Finding
from defib.gateway.inspection import summarise
from defib.gateway.protocol import Sent

SOURCE = "defib-gateway"
MAX_SAMPLE_IDS = 10

_TITLES = {
    "data_leak": "personal data or secrets in model responses",
    "toxicity": "toxic model responses",
    "hallucination": "responses not supported by the supplied context",
}
_SEVERITY = {"data_leak": "critical", "toxicity": "high", "hallucination": "warning"}


@dataclass(frozen=True, slots=True)
class Offence:
    """One response inline detection flagged (prompt and response already masked)."""

    request_id: str
    version: str | None
    prompt: str
    response: str
    user_id: str | None
    context: str | None
    findings: tuple[Finding, ...]
    # A short, stable id of the client's key (None: anonymous).
    client: str | None = None
    # A finding of an output-only detector whose text the prompt did not contain.
    unechoed: bool = False
    # The OpenTelemetry span the response was read from (signal sources, not the gateway).
    trace_id: str | None = None
    span_id: str | None = None


# Detectors whose input is the model's output alone; grounding also reads the context.
OUTPUT_ONLY_DETECTORS = frozenset({"pii", "secrets", "toxicity"})
ANONYMOUS = "anonymous"


def unechoed(findings: Sequence[Finding], sent: Sent | str) -> bool:
    """Some output-only finding is in nothing the client sent.

    A client can make a model say anything it was told to repeat; a value the model
    produced that the request never contained is the model's (or its data's) doing. The
    request is all of it (`protocol.client_sent`): every message and part type, tool
    definitions, tool_calls arguments, tool results. A request with media defib cannot read
    (an image, audio, a file) may have carried any value, so nothing in its answer counts
    as the model's own. Values are compared case-folded, and again with only their letters
    and digits (`123-45-6789` sent as `123 45 6789`).
    """
    if isinstance(sent, str):
        sent = Sent(sent, opaque=False)
    if sent.opaque:
        return False
    folded = sent.text.casefold()
    bare = _bare(folded)
    return any(
        f.detector in OUTPUT_ONLY_DETECTORS
        and f.text
        and f.text.casefold() not in folded
        and not (_bare(f.text.casefold()) and _bare(f.text.casefold()) in bare)
        for f in findings
    )


def _bare(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def _spans(offences: Sequence[Offence]) -> dict[str, str]:
    """Labels naming the flagged spans (none for the gateway's own traffic)."""
    spans = [o for o in offences if o.trace_id and o.span_id][-MAX_SAMPLE_IDS:]
    if not spans:
        return {}
    return {
        "trace_ids": ",".join(dict.fromkeys(str(o.trace_id) for o in spans)),
        "span_ids": ",".join(str(o.span_id) for o in spans),
    }


def detection_alert(
    system: str, kind: str, offences: Sequence[Offence], *, source: str = SOURCE
) -> dict[str, Any]:
    """A native alert for `kind` (data_leak, toxicity, hallucination) with masked samples.

    `source` is the gateway's, or a signal source's (`defib-otlp`, `defib-litellm`): its
    signal is then `otlp.<kind>`, which the corroboration gate reads the same way.
    """
    last = offences[-1]
    counts = summarise(f for o in offences for f in o.findings)
    what = ", ".join(f"{c['entity']} x{c['count']}" for c in counts)
    ids = [o.request_id for o in offences][-MAX_SAMPLE_IDS:]
    clients = sorted({o.client or ANONYMOUS for o in offences})
    origin = source.removeprefix("defib-")
    via = "The gateway's inline detection" if source == SOURCE else f"Detection on {origin} calls"
    span = {"trace_id": last.trace_id, "span_id": last.span_id} if last.span_id else {}
    return {
        "source": source,
        "type": kind,
        "title": f"{system}: {_TITLES.get(kind, kind)}",
        "description": (
            f"{via} flagged {len(offences)} response(s) of "
            f"{system} (version {last.version or 'unknown'}): {what}."
        ),
        "signal": f"{origin}.{kind}",
        "systems": [system],
        "labels": {
            "system": system,
            "version": last.version or "",
            "detectors": ",".join(sorted({str(c["detector"]) for c in counts})),
            "request_ids": ",".join(ids),
            "clients": ",".join(clients),
            "keyed_requests": str(sum(1 for o in offences if o.client is not None)),
            "unechoed_requests": str(sum(1 for o in offences if o.unechoed)),
            **_spans(offences),
        },
        "value": float(len(offences)),
        "severity": _SEVERITY.get(kind, "warning"),
        "dedup_key": f"{source}:{system}:{kind}",
        "samples": [
            {
                "prompt": last.prompt,
                "response": last.response,
                "user_id": last.user_id,
                **({"context": last.context} if last.context else {}),
                **span,
            }
        ],
    }


@dataclass
class AlertLimiter:
    """At most one alert per (system, kind) per `min_interval` seconds; offences seen in
    between are kept (up to a few) and reported with the next alert.

    One client key (or all anonymous callers together) contributes at most
    `per_client_per_minute` offences a minute: past that its flagged requests are dropped,
    so one client cannot flood the alerts, nor their corroboration counts.
    """

    min_interval: float
    per_client_per_minute: int = 1_000_000
    _last: dict[tuple[str, str], float] = field(default_factory=dict)
    _pending: dict[tuple[str, str], list[Offence]] = field(default_factory=dict)
    _quota: dict[str, tuple[float, int]] = field(default_factory=dict)
    dropped: int = 0

    def _admit(self, client: str, now: float) -> bool:
        start, used = self._quota.get(client, (now, 0))
        if now - start >= 60.0:
            start, used = now, 0
        if used >= self.per_client_per_minute:
            self.dropped += 1
            return False
        self._quota[client] = (start, used + 1)
        if len(self._quota) > 10_000:  # forget idle clients rather than grow without end
            self._quota = {k: v for k, v in self._quota.items() if now - v[0] < 60.0}
        return True

    def offer(self, system: str, kind: str, offence: Offence, now: float) -> list[Offence]:
        """The offences to alert on now, or [] while rate limited."""
        if not self._admit(offence.client or ANONYMOUS, now):
            return []
        key = (system, kind)
        pending = self._pending.setdefault(key, [])
        pending.append(offence)
        del pending[:-MAX_SAMPLE_IDS]
        last = self._last.get(key)
        if last is not None and now - last < self.min_interval:
            return []
        self._last[key] = now
        self._pending[key] = []
        return pending
