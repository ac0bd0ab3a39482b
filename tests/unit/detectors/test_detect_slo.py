"""Multi-window multi-burn-rate SLO evaluation."""

from __future__ import annotations

import pytest

from defib.detectors.slo import SloEvaluator

T0 = 1_700_000_000.0


def _feed(ev: SloEvaluator, start: float, seconds: int, per_s: int, bad_every: int) -> None:
    k = 0
    for s in range(seconds):
        for _ in range(per_s):
            k += 1
            if ev.kind == "error_rate":
                ev.record((start + s, k % bad_every != 0))
            else:
                ev.record((start + s, 900.0 if k % bad_every == 0 else 100.0))


def test_healthy_traffic_raises_nothing() -> None:
    """About 0.04% errors against a 99.9% SLO burns under 1x: no alert."""
    ev = SloEvaluator("chat-api", target=0.999)
    _feed(ev, T0, 3600, 2, 2000)
    assert ev.evaluate(T0 + 3600) == []
    assert 0.3 < ev.burn_rate(3600, T0 + 3600) < 0.6


def test_fast_burn_pages_when_both_windows_exceed_14_4() -> None:
    """5% errors for an hour is 50x: page (critical) and ticket (warning) both fire."""
    ev = SloEvaluator("chat-api", target=0.999)
    _feed(ev, T0, 3600, 2, 20)
    alerts = {a["labels"]["rule"]: a for a in ev.evaluate(T0 + 3599)}
    assert set(alerts) == {"page", "ticket"}
    page = alerts["page"]
    assert page["severity"] == "critical"
    assert page["status"] == "firing"
    assert page["threshold"] == 14.4
    assert page["value"] == pytest.approx(50, rel=0.05)
    assert page["systems"] == ["chat-api"]
    assert page["labels"]["ai_incident_type"] == "availability"
    assert page["source"] == "defib-slo"
    assert page["dedup_key"] == "defib-slo:chat-api:chat-api-availability:page"


def test_short_window_recovery_stops_the_page() -> None:
    """A long window still hot but a clean last 5 minutes does not page, and the page
    resolves."""
    ev = SloEvaluator("chat-api", target=0.999)
    _feed(ev, T0, 3000, 2, 20)
    assert any(a["labels"]["rule"] == "page" for a in ev.evaluate(T0 + 2999))
    _feed(ev, T0 + 3000, 600, 2, 10**9)
    alerts = {a["labels"]["rule"]: a for a in ev.evaluate(T0 + 3599)}
    assert alerts["page"]["status"] == "resolved"


def test_slow_burn_tickets_only() -> None:
    """1% errors (10x) over 6h is a ticket but not a page."""
    ev = SloEvaluator("rag", target=0.999, bucket_seconds=60)
    _feed(ev, T0, 6 * 3600, 1, 100)
    alerts = ev.evaluate(T0 + 6 * 3600 - 1)
    assert [(a["labels"]["rule"], a["severity"]) for a in alerts] == [("ticket", "warning")]


def test_latency_slo_is_performance() -> None:
    """Requests slower than the threshold burn a latency SLO, typed as performance."""
    ev = SloEvaluator("embed", target=0.99, kind="latency", latency_threshold_ms=500)
    _feed(ev, T0, 3600, 1, 2)
    (page, _ticket) = ev.evaluate(T0 + 3599)
    assert page["labels"]["ai_incident_type"] == "performance"
    assert page["value"] == pytest.approx(50, rel=0.05)


def test_memory_is_bounded_by_the_longest_window() -> None:
    """Bucket count never exceeds the 6h horizon divided by the bucket width (+2)."""
    ev = SloEvaluator("x", bucket_seconds=60)
    _feed(ev, T0, 12 * 3600, 1, 50)
    assert len(ev._buckets) <= 6 * 60 + 2


def test_invalid_configuration_rejected() -> None:
    """Targets outside (0, 1) and latency SLOs without a threshold are errors."""
    with pytest.raises(ValueError, match="target"):
        SloEvaluator("x", target=99.9)
    with pytest.raises(ValueError, match="latency_threshold_ms"):
        SloEvaluator("x", kind="latency")
