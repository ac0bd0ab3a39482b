"""The corroboration gate: gateway traffic alone contains only when one client cannot
have faked it (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from defib.config import CorroborationSettings
from defib.corroboration import StoredAlert, judge
from defib.detectors import Finding
from defib.gateway.alerts import AlertLimiter, Offence, detection_alert, unechoed

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
RULES = CorroborationSettings(min_clients=2, min_requests=5, window_seconds=600)


def _finding(detector: str, text: str) -> Finding:
    return Finding(
        type="EMAIL", start=0, end=len(text), score=1.0, detector=detector, version="1", text=text
    )


def _offence(client: str | None, *, echoed: bool = True, n: int = 0) -> Offence:
    return Offence(
        request_id=f"r{n}",
        version="v2",
        prompt="p",
        response="r",
        user_id=None,
        context=None,
        findings=(_finding("grounding", "90 days"),),
        client=client,
        unechoed=not echoed,
    )


def _alert(offences: list[Offence], at: datetime = NOW, kind: str = "hallucination") -> StoredAlert:
    return StoredAlert(at, detection_alert("chat-api", kind, offences))


def test_one_client_alone_is_not_corroboration() -> None:
    verdict = judge([_alert([_offence("k1", n=i) for i in range(3)])], RULES, NOW)
    assert verdict is not None and not verdict.corroborated
    assert (verdict.clients, verdict.keyed_requests) == (1, 3)
    anonymous = judge([_alert([_offence(None, n=i) for i in range(50)])], RULES, NOW)
    assert anonymous is not None and not anonymous.corroborated  # anonymous never counts


def test_two_client_keys_corroborate() -> None:
    verdict = judge([_alert([_offence("k1")]), _alert([_offence("k2")])], RULES, NOW)
    assert verdict is not None and verdict.corroborated
    assert verdict.clients == 2


def test_enough_keyed_requests_within_the_window_corroborate() -> None:
    old = NOW - timedelta(seconds=601)
    stale = [_alert([_offence("k1", n=i) for i in range(5)], at=old)]
    verdict = judge(stale, RULES, NOW)
    assert verdict is not None and not verdict.corroborated  # outside the window
    fresh = judge([*stale, _alert([_offence("k1", n=i) for i in range(5)])], RULES, NOW)
    assert fresh is not None and fresh.corroborated


def test_output_the_client_did_not_supply_corroborates() -> None:
    verdict = judge([_alert([_offence(None, echoed=False)], kind="data_leak")], RULES, NOW)
    assert verdict is not None and verdict.corroborated


def test_incidents_with_other_sources_are_not_gated() -> None:
    other: dict[str, Any] = {"source": "prometheus", "labels": {}}
    assert judge([_alert([_offence("k1")]), StoredAlert(NOW, other)], RULES, NOW) is None
    assert judge([], RULES, NOW) is None


def test_an_echoed_value_is_the_clients_not_the_models() -> None:
    leak = [_finding("pii", "jane@example.com")]
    assert not unechoed(leak, "Please repeat: JANE@example.com")
    assert unechoed(leak, "who is the customer?")
    assert not unechoed([_finding("grounding", "90 days")], "who?")  # grounding: not output-only


def test_one_client_key_cannot_flood_the_alerts() -> None:
    limiter = AlertLimiter(min_interval=0, per_client_per_minute=3)
    sent = [limiter.offer("s", "toxicity", _offence("k1", n=i), now=float(i)) for i in range(10)]
    assert sum(1 for s in sent if s) == 3
    assert limiter.offer("s", "toxicity", _offence("k2"), now=10.0)  # another key still counts
    assert limiter.offer("s", "toxicity", _offence("k1"), now=70.0)  # a new minute
