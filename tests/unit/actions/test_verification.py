"""What counts as evidence per incident type (pure)."""

from __future__ import annotations

from defib.actions.verification import (
    MAX_REPLAYS,
    Replay,
    echoed,
    general_probes,
    probes_for,
    replays_for,
)
from defib.config import ProbeConfig
from defib.model import IncidentType


def probe(**kw: object) -> ProbeConfig:
    return ProbeConfig.model_validate({"prompt": "hi", **kw})


def test_untyped_probes_are_evidence_for_no_type() -> None:
    """A probe naming no type proves no particular failure gone: it only runs beside the
    evidence of a content incident, never for performance or availability."""
    probes = [probe(), probe(types=["data_leak"])]
    for kind in IncidentType:
        assert 0 not in [i for i, _ in probes_for(probes, kind)], kind
    assert [i for i, _ in probes_for(probes, IncidentType.DATA_LEAK)] == [1]
    assert probes_for(probes, IncidentType.HALLUCINATION) == []
    assert [i for i, _ in general_probes(probes, IncidentType.HALLUCINATION)] == [0]
    assert [i for i, _ in general_probes(probes, IncidentType.BIAS)] == [0]
    assert general_probes(probes, IncidentType.PERFORMANCE) == []
    assert general_probes(probes, IncidentType.AVAILABILITY) == []


def test_performance_needs_a_latency_bound_and_the_type() -> None:
    probes = [
        probe(types=["performance"]),
        probe(types=["performance"], max_latency_ms=500),
        probe(max_latency_ms=500),
        probe(types=["availability"]),
    ]
    assert [i for i, _ in probes_for(probes, IncidentType.PERFORMANCE)] == [1]
    assert [i for i, _ in probes_for(probes, IncidentType.AVAILABILITY)] == [3]
    assert probes_for(probes, IncidentType.TOXICITY) == []


def test_replays_are_distinct_prompts_and_bounded() -> None:
    samples = [{"prompt": f"q{i % (MAX_REPLAYS + 5)}", "response": "x"} for i in range(100)]
    samples.append({"prompt": "  ", "response": "blank prompts are not replayed"})
    replays = replays_for(samples, IncidentType.DATA_LEAK)
    assert len(replays) == MAX_REPLAYS
    assert len({r.prompt for r in replays}) == MAX_REPLAYS


def test_hallucination_replays_need_their_context() -> None:
    samples = [
        {"prompt": "a", "response": "x"},
        {"prompt": "b", "response": "y", "context": ["doc one", "doc two"]},
    ]
    assert replays_for(samples, IncidentType.HALLUCINATION) == [Replay("b", "doc one\ndoc two")]
    assert replays_for(samples, IncidentType.BIAS) == []


def test_echoed_values_are_the_clients() -> None:
    assert echoed("Jane@Example.org", "is jane@example.org mine?")
    assert not echoed("jane@example.org", "who is the customer?")
    assert not echoed("", "anything")
