"""May an incident the gateway raised from live traffic contain its system? (pure)

A gateway client controls its own prompt and, for grounding, the context it sends; from
one client's word alone defib must not disable an endpoint, block its outputs or roll it
back (issue 11: one anonymous request with a made-up context switched a system off).
Containment of an incident whose every alert is a gateway detection alert therefore needs
findings from `min_clients` (2) distinct client keys: one key alone, however many requests
it sends and whatever its findings, never switches a system off for the others (issue 25:
PII a client put in an image part counted as the model's own, and one key disabled the
system). Findings on output the client did not supply, and the count of flagged keyed
requests, are reported with the verdict for the people deciding, not acted on alone.

Other corroboration comes from outside the traffic: an incident with any other alert (a
monitor, a probe, an SLO burn rate, a person declaring) is not gated, since its sources
hold defib tokens and are trusted to the degree their role says; and a person can contain
by hand (`defib systems disable`, or retrying the withheld step after corroboration).
`min_requests` is no longer a route of its own (kept so that configs still load).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from defib.config import CorroborationSettings

GATEWAY_SOURCE = "defib-gateway"
# Detection on an application's own model calls heard over OpenTelemetry or from LiteLLM
# (defib.signals) judges output its end users shaped just as much: the same gate applies.
DETECTION_SOURCES = {GATEWAY_SOURCE: "gateway", "defib-otlp": "otlp", "defib-litellm": "litellm"}
DETECTION_SIGNALS = frozenset(
    f"{origin}.{kind}"
    for origin in DETECTION_SOURCES.values()
    for kind in ("data_leak", "toxicity", "hallucination")
)
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """What the gate reads of one alert of the incident."""

    received_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Verdict:
    corroborated: bool
    reason: str
    clients: int = 0
    keyed_requests: int = 0
    unechoed_requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "corroborated": self.corroborated,
            "reason": self.reason,
            "clients": self.clients,
            "keyed_requests": self.keyed_requests,
            "unechoed_requests": self.unechoed_requests,
        }


def is_gateway_detection(payload: Mapping[str, Any]) -> bool:
    source = DETECTION_SOURCES.get(str(payload.get("source")))
    signal = str(payload.get("signal"))
    return source is not None and signal in DETECTION_SIGNALS and signal.startswith(source + ".")


def _int(labels: Mapping[str, Any], key: str) -> int:
    try:
        return max(0, int(str(labels.get(key, "0"))))
    except ValueError:
        return 0


def judge(
    alerts: Sequence[StoredAlert], rules: CorroborationSettings, now: datetime
) -> Verdict | None:
    """The gate's verdict, or None when the incident is not the gateway's alone."""
    if not alerts or not all(is_gateway_detection(a.payload) for a in alerts):
        return None
    since = now - timedelta(seconds=rules.window_seconds)
    clients: set[str] = set()
    keyed = unechoed = 0
    for a in alerts:
        labels = a.payload.get("labels")
        if not isinstance(labels, Mapping):
            continue
        clients.update(c for c in str(labels.get("clients", "")).split(",") if c)
        unechoed += _int(labels, "unechoed_requests")
        if a.received_at >= since:
            keyed += _int(labels, "keyed_requests")
    clients.discard(ANONYMOUS)
    counts = {"clients": len(clients), "keyed_requests": keyed, "unechoed_requests": unechoed}
    if len(clients) >= rules.min_clients:
        return Verdict(True, f"findings from {len(clients)} client keys", **counts)
    return Verdict(
        False,
        "raised by gateway traffic alone and not corroborated: needs findings from"
        f" {rules.min_clients} client keys, an alert from another source (a monitor, a probe)"
        " or a person containing by hand"
        f" (have {len(clients)} key(s), {keyed} keyed request(s), {unechoed} on output the"
        " client did not supply)",
        **counts,
    )
