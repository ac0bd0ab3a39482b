"""Fingerprints, identity normalisation and re-delivery detection."""

from hypothesis import given
from hypothesis import strategies as st

from defib.intake.correlate import fingerprint, normalise_identity
from defib.model import IncidentType

T = IncidentType


def test_volatile_parts_of_identity_collapse() -> None:
    """Numbers and pod hashes do not split one incident."""
    assert normalise_identity("Latency 812ms on pod-7f9c") == normalise_identity(
        "Latency 930ms on pod-1a2b"
    )
    assert normalise_identity("req 3fa85f64-5717-4562-b3fc-2c963f66afa6") == "req <id>"
    assert normalise_identity("vllm-6f9c7d-2xk8p") == normalise_identity("vllm-84bd5f-q7x2m")


def test_words_stay_distinct() -> None:
    assert normalise_identity("HighLatency") != normalise_identity("HighErrorRate")
    assert normalise_identity("  Mixed   CASE ") == "mixed case"


def test_fingerprint_is_stable_over_system_order_and_case() -> None:
    a = fingerprint(T.PERFORMANCE, ["Chat", "gpt-4o"], "Latency 812ms")
    b = fingerprint(T.PERFORMANCE, ["gpt-4o", "chat", "chat"], "latency 930ms")
    assert a == b
    assert len(a) == 32 and int(a, 16) >= 0


def test_fingerprint_separates_type_systems_identity() -> None:
    base = fingerprint(T.PERFORMANCE, ["chat"], "HighLatency")
    assert fingerprint(T.AVAILABILITY, ["chat"], "HighLatency") != base
    assert fingerprint(T.PERFORMANCE, ["embed"], "HighLatency") != base
    assert fingerprint(T.PERFORMANCE, ["chat"], "HighErrorRate") != base


@given(st.text(), st.lists(st.text()))
def test_fingerprint_deterministic(identity: str, systems: list[str]) -> None:
    assert fingerprint(T.BIAS, systems, identity) == fingerprint(T.BIAS, list(systems), identity)
