"""What counts as evidence per incident type (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from defib.actions.base import ActionError
from defib.actions.verification import (
    MAX_REPLAYS,
    Replay,
    echoed,
    general_probes,
    probes_for,
    replays_for,
)
from defib.actions.verify import Window, window
from defib.config import ProbeConfig, SystemConfig
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


def system(**kw: object) -> SystemConfig:
    return SystemConfig.model_validate({"name": "chat-api", **kw})


def test_objective_window_defaults_to_a_minute_not_one_round() -> None:
    """Issue 24: one probe answering quickly is no evidence that latency is back. By default
    the probes must pass for 60 s, every 5 s, within the hold plus two intervals."""
    assert window({}, 300, [system()]) == Window(wait=70, hold=60, interval=5)
    short = system(verification={"hold_seconds": 1, "interval_seconds": 0.2})
    assert window({}, 300, [short]) == Window(wait=1.4, hold=1, interval=0.2)
    # Nothing to probe: one look at the source (its later resolve mitigates through intake).
    assert window({}, 300, []).wait == 0


def test_objective_window_params_override_and_several_systems_take_the_strictest() -> None:
    a = system(verification={"hold_seconds": 30, "interval_seconds": 10})
    b = system(name="b", verification={"hold_seconds": 10, "interval_seconds": 2})
    assert window({}, 300, [a, b]) == Window(wait=34, hold=30, interval=2)
    params = {"hold_seconds": 0, "interval_seconds": 1, "wait_seconds": 3}
    assert window(params, 300, [a, b]) == Window(wait=3, hold=0, interval=1)
    assert window({"hold_seconds": 5}, 300, [a]) == Window(wait=25, hold=5, interval=10)


def test_objective_window_that_can_never_be_met_is_an_error() -> None:
    """A wait shorter than the hold, or longer than the step may run, would fail quietly
    (unverified every time, or a bare timeout): the step fails saying why instead."""
    with pytest.raises(ActionError, match=r"wait_seconds \(10\) is shorter than the hold"):
        window({"wait_seconds": 10}, 300, [system()])
    with pytest.raises(ActionError, match=r"does not fit the step's timeout_seconds \(60\)"):
        window({}, 60, [system()])
    with pytest.raises(ActionError, match=r"params\.hold_seconds"):
        window({"hold_seconds": -1}, 300, [system()])


@pytest.mark.parametrize(
    "verification",
    [{"hold_seconds": -1}, {"interval_seconds": 0}, {"hold_seconds": 7200}, {"hold": 60}],
)
def test_verification_setting_is_validated(verification: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        system(verification=verification)
