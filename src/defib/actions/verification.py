"""Pure: what counts as evidence that an incident's failure is gone, per incident type.

- Content incidents (data_leak, toxicity, hallucination, bias): the incident's own samples
  (the prompts whose answers fired a detector) replayed against the version now serving,
  with the detector that fired clean on every answer; and the system's probes that name the
  type (`probes[].types`). Either may be the evidence.
- A probe naming no type is a general check, evidence about no particular failure: it
  runs beside a content incident's evidence (a replay or a typed probe) and its failing
  fails the step, but it never verifies an incident alone, and performance and
  availability never run it.
- Performance and availability: the alert's source reporting every alert resolved, or
  probes that name the type (a performance probe must carry `max_latency_ms`) passing on
  every round for the hold window.
- Nothing applicable: no evidence either way; the step ends `unverified`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from defib.config import ProbeConfig
from defib.model import IncidentType

CONTENT_TYPES = frozenset(
    {IncidentType.DATA_LEAK, IncidentType.TOXICITY, IncidentType.HALLUCINATION, IncidentType.BIAS}
)
OBJECTIVE_TYPES = frozenset({IncidentType.PERFORMANCE, IncidentType.AVAILABILITY})
# The detector whose finding made each content type an incident (bias has none that reads
# one answer: its evidence is probes and metrics).
REPLAY_DETECTORS: Mapping[IncidentType, tuple[str, ...]] = {
    IncidentType.DATA_LEAK: ("pii",),
    IncidentType.TOXICITY: ("toxicity",),
    IncidentType.HALLUCINATION: ("grounding",),
}
# At most this many samples are replayed: enough to show the answers changed, bounded
# for an incident that folded thousands of alerts.
MAX_REPLAYS = 20


@dataclass(frozen=True, slots=True)
class Replay:
    """One captured prompt to send again, and what the detector needs beside the answer."""

    prompt: str
    context: str | None = None


def probes_for(probes: Sequence[ProbeConfig], kind: IncidentType) -> list[tuple[int, ProbeConfig]]:
    """The probes (with their index) whose passing is evidence for an incident of `kind`:
    those that name it in `types`. An untyped probe is no evidence about a particular
    failure: a personal-data check passing says nothing about grounding or toxicity."""
    chosen: list[tuple[int, ProbeConfig]] = []
    for i, probe in enumerate(probes):
        applies = kind in probe.types
        if kind is IncidentType.PERFORMANCE and probe.max_latency_ms is None:
            applies = False  # says nothing about latency
        if applies:
            chosen.append((i, probe))
    return chosen


def general_probes(
    probes: Sequence[ProbeConfig], kind: IncidentType
) -> list[tuple[int, ProbeConfig]]:
    """The untyped probes (with their index) that run beside a content incident's evidence:
    a regression check must still pass, though its passing proves nothing by itself."""
    if kind not in CONTENT_TYPES:
        return []
    return [(i, p) for i, p in enumerate(probes) if not p.types]


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list):  # retrieved documents as a list of strings
        parts = [str(v) for v in value if isinstance(v, str | int | float)]
        return "\n".join(parts) or None
    return None


def replays_for(samples: Iterable[Mapping[str, Any]], kind: IncidentType) -> list[Replay]:
    """The incident's samples that can be replayed for `kind` (distinct prompts, bounded).

    A hallucination sample needs its retrieval context, since grounding is judged against
    it; a type with no replay detector has none.
    """
    if kind not in REPLAY_DETECTORS:
        return []
    seen: set[str] = set()
    out: list[Replay] = []
    for sample in samples:
        prompt = _text(sample.get("prompt"))
        if prompt is None or prompt in seen:
            continue
        context = _text(sample.get("context"))
        if kind is IncidentType.HALLUCINATION and context is None:
            continue
        seen.add(prompt)
        out.append(Replay(prompt, context))
        if len(out) >= MAX_REPLAYS:
            break
    return out


def echoed(found: str, prompt: str) -> bool:
    """A finding whose text the prompt already held is the client's, not the model's."""
    return bool(found) and found.casefold() in prompt.casefold()
