"""Native alerts the gateway raises from inline detection, and their rate limit (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from defib.detectors import Finding
from defib.gateway.inspection import summarise

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


def detection_alert(system: str, kind: str, offences: Sequence[Offence]) -> dict[str, Any]:
    """A native alert for `kind` (data_leak, toxicity, hallucination) with masked samples."""
    last = offences[-1]
    counts = summarise(f for o in offences for f in o.findings)
    what = ", ".join(f"{c['entity']} x{c['count']}" for c in counts)
    ids = [o.request_id for o in offences][-MAX_SAMPLE_IDS:]
    return {
        "source": SOURCE,
        "type": kind,
        "title": f"{system}: {_TITLES.get(kind, kind)}",
        "description": (
            f"The gateway's inline detection flagged {len(offences)} response(s) of "
            f"{system} (version {last.version or 'unknown'}): {what}."
        ),
        "signal": f"gateway.{kind}",
        "systems": [system],
        "labels": {
            "system": system,
            "version": last.version or "",
            "detectors": ",".join(sorted({str(c["detector"]) for c in counts})),
            "request_ids": ",".join(ids),
        },
        "value": float(len(offences)),
        "severity": _SEVERITY.get(kind, "warning"),
        "dedup_key": f"{SOURCE}:{system}:{kind}",
        "samples": [
            {
                "prompt": last.prompt,
                "response": last.response,
                "user_id": last.user_id,
                **({"context": last.context} if last.context else {}),
            }
        ],
    }


@dataclass
class AlertLimiter:
    """At most one alert per (system, kind) per `min_interval` seconds; offences seen in
    between are kept (up to a few) and reported with the next alert."""

    min_interval: float
    _last: dict[tuple[str, str], float] = field(default_factory=dict)
    _pending: dict[tuple[str, str], list[Offence]] = field(default_factory=dict)

    def offer(self, system: str, kind: str, offence: Offence, now: float) -> list[Offence]:
        """The offences to alert on now, or [] while rate limited."""
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
