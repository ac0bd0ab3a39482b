"""Token usage, cost and finish-reason SLOs (issue 29): the evaluator on its own, its
configuration, how the gateway reads usage off upstream answers, and a breach through the
gateway opening a performance incident."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from defib.config import GatewaySloConfig
from defib.detectors.slo import UsageEvaluator, UsageLimits
from defib.gateway import protocol
from defib.gateway.postprocess import Exchange, read_stream_usage, read_usage
from defib.gateway.server import ThreadedServer
from defib.model import IncidentType
from defib.store import incidents as incident_repo
from tests.support.gateway import GatewayFactory, system

T0 = 1_700_000_000.0


def _feed(
    ev: UsageEvaluator,
    start: float,
    seconds: int,
    per_10s: int,
    tokens: tuple[int | None, int | None] = (100, 100),
    finish: tuple[str, ...] = ("stop",),
    model: str | None = None,
) -> None:
    for s in range(0, seconds, 10):
        for _ in range(per_10s):
            ev.record(start + s, tokens[0], tokens[1], finish, model)


def _by_check(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["labels"]["check"]: a for a in alerts}


def test_tokens_per_minute_over_the_ceiling_fires_then_resolves_once() -> None:
    """6 calls of 200 tokens per 10 s is 7,200 tokens/min: over a 5,000 ceiling."""
    ev = UsageEvaluator("chat-api", UsageLimits(max_tokens_per_minute=5000))
    _feed(ev, T0, 300, 6)
    [alert] = ev.evaluate(T0 + 299)
    assert alert["status"] == "firing"
    assert alert["labels"]["check"] == "tokens_per_minute"
    assert alert["labels"]["ai_incident_type"] == "performance"
    assert alert["labels"]["slo"] == "chat-api-tokens"
    assert alert["value"] == pytest.approx(7200)
    assert alert["threshold"] == 5000
    assert alert["signal"] == "token_usage"
    assert alert["dedup_key"] == "defib-slo:chat-api:chat-api-tokens:tokens_per_minute"
    # Ten quiet minutes later the window is empty: resolved once, then nothing.
    [resolved] = ev.evaluate(T0 + 900)
    assert resolved["status"] == "resolved"
    assert ev.evaluate(T0 + 901) == []


def test_under_the_ceiling_nothing_fires() -> None:
    ev = UsageEvaluator("chat-api", UsageLimits(max_tokens_per_minute=10_000))
    _feed(ev, T0, 300, 6)
    assert ev.evaluate(T0 + 299) == []


def test_a_spike_against_the_hour_before_fires() -> None:
    """Steady traffic for an hour, then the same call rate with ten times the tokens."""
    ev = UsageEvaluator("chat-api", UsageLimits(spike_factor=5, baseline_s=3600))
    _feed(ev, T0, 3600, 2)
    assert ev.evaluate(T0 + 3599) == []  # steady: the window is like its baseline
    _feed(ev, T0 + 3600, 300, 2, tokens=(1000, 1000))
    [alert] = ev.evaluate(T0 + 3899)
    assert alert["labels"]["check"] == "token_spike"
    assert alert["value"] == pytest.approx(10, rel=0.05)


def test_no_spike_without_a_baseline() -> None:
    """A system's first busy minutes are no spike: the baseline has too few calls."""
    ev = UsageEvaluator("chat-api", UsageLimits(spike_factor=2, min_calls=10))
    ev.record(T0, 10, 10)
    _feed(ev, T0 + 3600, 300, 5, tokens=(5000, 5000))
    assert ev.evaluate(T0 + 3899) == []


def test_output_tokens_per_call_needs_min_calls_and_ignores_unmetered_calls() -> None:
    ev = UsageEvaluator("chat-api", UsageLimits(max_output_tokens_per_call=1000, min_calls=5))
    for _ in range(4):
        ev.record(T0, 10, 3000)
    assert ev.evaluate(T0 + 1) == []  # 4 metered calls: not judged yet
    for _ in range(20):
        ev.record(T0 + 1, None, None)  # no usage reported: not counted as zero
    ev.record(T0 + 2, 10, 3000)
    [alert] = ev.evaluate(T0 + 3)
    assert alert["labels"]["check"] == "output_tokens_per_call"
    assert alert["value"] == 3000
    assert alert["labels"]["calls"] == "25"


def test_cost_is_priced_per_model_and_unpriced_models_cost_nothing() -> None:
    limits = UsageLimits(max_cost_per_minute=1.0, prices={"big": (10.0, 30.0)})
    ev = UsageEvaluator("chat-api", limits)
    # 90 calls of 10k in + 10k out tokens of an unpriced model: free here.
    _feed(ev, T0, 300, 3, tokens=(10_000, 10_000), model="small")
    assert ev.evaluate(T0 + 299) == []
    # 90 calls of the priced model: each (10k x 10 + 10k x 30) / 1M = 0.4 -> 36 / 5 min.
    _feed(ev, T0, 300, 3, tokens=(10_000, 10_000), model="big")
    [alert] = ev.evaluate(T0 + 299)
    assert alert["labels"]["check"] == "cost_per_minute"
    assert alert["value"] == pytest.approx(7.2)


def test_abnormal_finish_share() -> None:
    """A third of the answers cut short (`length`) against a 20% ceiling."""
    ev = UsageEvaluator("chat-api", UsageLimits(max_abnormal_finish_share=0.2, min_calls=10))
    _feed(ev, T0, 300, 2, finish=("stop",))
    _feed(ev, T0, 300, 1, finish=("length",))
    _feed(ev, T0, 300, 5, finish=())  # no finish reason reported: not in the share
    [alert] = ev.evaluate(T0 + 299)
    assert alert["labels"]["check"] == "abnormal_finish"
    assert alert["labels"]["slo"] == "chat-api-finish"
    assert alert["signal"] == "finish_reasons"
    assert alert["value"] == pytest.approx(1 / 3, abs=1e-3)
    assert "length" in alert["description"]


def test_late_calls_count_in_their_own_minute_and_memory_stays_bounded() -> None:
    ev = UsageEvaluator("chat-api", UsageLimits(max_tokens_per_minute=100, window_s=60))
    ev.record(T0 + 50, 100, 100)
    ev.record(T0 + 5, 100, 100)  # reported late
    assert ev.figures(T0 + 59)["tokens_per_minute"] == 400
    for i in range(10_000):
        ev.record(T0 - 10 * i, 1, 1)  # old news from a broken clock
    ev.figures(T0 + 59)
    assert len(ev._buckets) <= (60 + 3600) // 10 + 1


def test_the_suffix_names_another_sources_slo() -> None:
    ev = UsageEvaluator("bot", UsageLimits(max_tokens_per_minute=1), suffix="-otlp")
    ev.record(T0, 100, 100)
    [alert] = ev.evaluate(T0 + 1)
    assert alert["labels"]["slo"] == "bot-tokens-otlp"


# -- configuration ------------------------------------------------------------------------


def test_usage_is_off_by_default() -> None:
    assert not GatewaySloConfig().usage.enabled


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ({"max_cost_per_minute": 1}, "max_cost_per_minute needs prices"),
        ({"spike_factor": 3, "window_seconds": 900, "baseline_seconds": 600}, "baseline_seconds"),
        ({"spike_factor": 1}, "greater than 1"),
        ({"max_abnormal_finish_share": 1.5}, "less than 1"),
        ({"max_abnormal_finish_share": 0.1, "abnormal_finish_reasons": []}, "needs abnormal"),
        ({"prices": {"m": {"input": -1, "output": 1}}}, "greater than or equal to 0"),
        ({"max_tokens_per_minte": 1}, "max_tokens_per_minte"),
    ],
)
def test_bad_usage_settings_are_refused_with_a_clear_message(
    usage: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        GatewaySloConfig.model_validate({"usage": usage})


# -- reading usage off the upstream's answers ---------------------------------------------


def _exchange() -> Exchange:
    return Exchange("s", None, "r", protocol.CHAT, datetime.now(UTC), {}, 200, 1.0)


def test_usage_and_finish_reasons_are_read_from_a_completion() -> None:
    ex = _exchange()
    read_usage(
        ex,
        {
            "model": "gpt-x",
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
        },
    )
    assert (ex.input_tokens, ex.output_tokens, ex.finish_reasons, ex.model) == (
        12,
        34,
        ("length",),
        "gpt-x",
    )


def test_usage_is_read_from_the_tail_of_a_long_stream() -> None:
    """The finish reason rides on the last content chunk; usage on the chunk after it
    (`stream_options.include_usage`); a long stream's head is never parsed."""
    chunks = [{"choices": [{"index": 0, "delta": {"content": "word " * 50}}]}] * 400
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 777}})
    raw = b"".join(protocol.sse_event(c) for c in chunks) + protocol.sse_event(None)
    assert len(raw) > 50_000
    ex = _exchange()
    read_stream_usage(ex, raw)
    assert (ex.input_tokens, ex.output_tokens, ex.finish_reasons) == (5, 777, ("content_filter",))


def test_garbage_usage_is_ignored() -> None:
    ex = _exchange()
    read_usage(ex, {"usage": {"prompt_tokens": "many", "completion_tokens": True}, "choices": 3})
    assert (ex.input_tokens, ex.output_tokens, ex.finish_reasons) == (None, None, ())
    read_stream_usage(ex, b"data: {not json\n\ndata: [DONE]\n\n")
    assert ex.output_tokens is None


def test_gateway_traffic_over_the_output_ceiling_opens_a_performance_incident(
    start_gateway: GatewayFactory, upstream: ThreadedServer
) -> None:
    """The demo model's answers are several words long; a ceiling of one output token per
    call is breached by three calls, read off the upstream's own `usage`."""
    usage = {"max_output_tokens_per_call": 1, "min_calls": 3}
    gw = start_gateway([system("chat-api", upstream.url, gateway={"slo": {"usage": usage}})])
    client = gw.client("chat-api")
    for _ in range(3):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    deadline = time.monotonic() + 15
    found: list[Any] = []
    while not found and time.monotonic() < deadline:
        found, _ = gw.runtime.incidents.search(incident_repo.IncidentFilter(system="chat-api"))
        time.sleep(0.05)
    [incident] = found
    assert incident.type is IncidentType.PERFORMANCE
    assert incident.labels.get("slo") == "chat-api-tokens"
    assert incident.labels.get("check") == "output_tokens_per_call"
    evaluator = gw.gateway.post.usage["chat-api"]
    assert evaluator.figures(time.time())["output_tokens_per_call"] > 1
    assert orjson.dumps(incident.labels)  # labels stay plain strings
