"""Everything that happens after an answer is sent: detection, alerts, SLOs, capture.

One background thread takes finished exchanges off the request path in batches: it runs
the inline detectors, raises rate-limited native alerts through intake, feeds the SLO
burn-rate evaluators, masks and writes the sampled captures in one transaction per
batch, and prunes captures past their retention now and then. The request path only
appends to a deque: the thread wakes on a timer (`FLUSH_SECONDS`), not per request, because
waking it per request (as `BatchingThread` does) hands it the GIL in the middle of the
event loop's work and showed up as ~0.1 ms on every request in the benchmark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from defib.config import Settings, SystemConfig
from defib.detectors import Finding
from defib.detectors.slo import SloEvaluator, UsageEvaluator, UsageLimits
from defib.gateway import inspection, protocol
from defib.gateway.alerts import SOURCE, AlertLimiter, Offence, detection_alert, unechoed
from defib.store import systems as systems_repo
from defib.store.database import Database
from defib.systems.state import Capture

log = logging.getLogger(__name__)

PROBE_USER = "defib-probe"
MAX_PENDING = 10_000  # beyond this the gateway sheds post-processing, never requests
MAX_BATCH = 500
FLUSH_SECONDS = 0.05
SLO_EVALUATE_SECONDS = 1.0
PRUNE_SECONDS = 3600.0
NOTE_SERVED_SECONDS = 60.0
# Systems a signal source may name without configuring them (each holds two SLO evaluators).
MAX_ADOPTED_SYSTEMS = 1000

AlertSink = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class Exchange:
    """One finished request, as the post-processor needs it."""

    system: str
    version: str | None
    request_id: str
    endpoint: str
    at: datetime
    request: Mapping[str, Any]
    status_code: int
    latency_ms: float
    streamed: bool = False
    blocked: bool = False
    user_id: str | None = None
    probe: bool = False
    sampled: bool = False
    # The upstream's answer as received (JSON body, or the SSE bytes of a stream) ...
    body: bytes = b""
    # ... unless the request path already extracted its text (filters ran on it).
    text: str | None = None
    filter_hits: tuple[str, ...] = ()
    client: str | None = None  # short id of the client's key; None: anonymous
    # The client's key may send `defib_context`; from any other client it is ignored (a
    # made-up context would otherwise make grounding flag a correct answer).
    context_trusted: bool = False
    # The kill switch's own answers (503, fallback message) are not the model's: they count
    # against no SLO and are not inspected (a support address in the message is no leak).
    from_model: bool = True
    # How long the model itself took (None when no model was called): the gateway's own
    # share is latency_ms minus this. A stream's clock starts at upstream_started.
    upstream_ms: float | None = None
    upstream_started: float | None = None
    # The OpenTelemetry span this exchange was read from (defib.signals), for the evidence.
    trace_id: str | None = None
    span_id: str | None = None
    # False when status and latency were not measured (a log event without its span): the
    # answer is still inspected, but it counts for no SLO.
    timed: bool = True
    # Token usage and finish reasons, when known: a signal source reports them; for the
    # gateway's own traffic the post-processor reads them off the upstream's answer.
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reasons: tuple[str, ...] = ()
    model: str | None = None


# The tail of a recorded stream that holds its last events (finish reason, usage chunk).
STREAM_TAIL_BYTES = 8192


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_usage(ex: Exchange, obj: Mapping[str, Any]) -> None:
    """Fill `ex`'s token counts, finish reasons and model from one answer (or stream chunk)
    as OpenAI-compatible upstreams send them; what the answer lacks is left as it was."""
    usage = obj.get("usage")
    if isinstance(usage, Mapping):
        tokens_in = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
        tokens_out = _count(usage.get("completion_tokens", usage.get("output_tokens")))
        if tokens_in is not None or tokens_out is not None:
            ex.input_tokens, ex.output_tokens = tokens_in, tokens_out
    reasons = protocol.finish_reasons(obj)
    if reasons:
        ex.finish_reasons = tuple(reasons[i] for i in sorted(reasons))
    model = obj.get("model")
    if isinstance(model, str) and model and ex.model is None:
        ex.model = model[:200]


def read_stream_usage(ex: Exchange, raw: bytes) -> None:
    """Usage and finish reasons from the last events of a recorded SSE stream (the finish
    reason rides on the last content chunk; usage on a final chunk when the client asked
    for `stream_options.include_usage`)."""
    tail = raw[-STREAM_TAIL_BYTES:]
    cut = tail.find(b"\ndata:") if len(raw) > STREAM_TAIL_BYTES else -1
    decoder = protocol.SseDecoder()
    for data in [*decoder.feed(tail[cut + 1 :] if cut >= 0 else tail), *decoder.close()]:
        if data == protocol.DONE:
            continue
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            read_usage(ex, obj)


def _storable(text: str) -> str:
    """`text` with NUL characters replaced by U+FFFD: PostgreSQL refuses NUL in text, and
    one such capture would otherwise lose its whole batch there (and only there)."""
    return text.replace("\x00", "\ufffd")


class PostProcessor:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        alert: AlertSink,
        clock: Callable[[], datetime],
        *,
        source: str = SOURCE,
        adopt_unknown: bool = False,
    ) -> None:
        """`source` names the alerts' origin (the gateway, or a signal source such as
        `defib-otlp`); with `adopt_unknown`, exchanges of systems the configuration does not
        list are judged with the default settings instead of being ignored."""
        self.db = db
        self.alert = alert
        self.clock = clock
        self.source = source
        self.adopt_unknown = adopt_unknown
        self.systems: dict[str, SystemConfig] = {s.name: s for s in settings.systems}
        self.limiter = AlertLimiter(
            settings.gateway.alert_min_interval_seconds,
            settings.gateway.alert_offences_per_key_per_minute,
        )
        self.slos: dict[str, tuple[SloEvaluator, SloEvaluator]] = {
            s.name: self._evaluators(s) for s in settings.systems
        }
        self.usage: dict[str, UsageEvaluator] = {}
        for s in settings.systems:
            self._add_usage(s)
        self._slo_status: dict[str, str] = {}
        # The latest spans that counted against each SLO (signal sources): their ids go on
        # the SLO's alert, so the evidence names calls that burned the budget.
        self._burners: dict[str, deque[tuple[str, str]]] = {}
        self._last_slo = float("-inf")
        self._last_prune = float("-inf")
        self._last_served = float("-inf")
        self._served: set[tuple[str, str]] = set()
        self._pending: deque[Exchange] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0
        self.submitted = 0
        self.processed = 0

    @property
    def _suffix(self) -> str:
        # Another source's SLOs are named apart: their burn rates are measured on other
        # traffic, and sharing the gateway's dedup keys would let one resolve the other's.
        return "" if self.source == SOURCE else "-" + self.source.removeprefix("defib-")

    def _add_usage(self, s: SystemConfig) -> None:
        """A usage evaluator for a system that sets a usage limit (none costs nothing)."""
        cfg = s.gateway.slo.usage
        if not cfg.enabled:
            return
        limits = UsageLimits(
            window_s=cfg.window_seconds,
            min_calls=cfg.min_calls,
            max_tokens_per_minute=cfg.max_tokens_per_minute,
            spike_factor=cfg.spike_factor,
            baseline_s=cfg.baseline_seconds,
            max_output_tokens_per_call=cfg.max_output_tokens_per_call,
            max_cost_per_minute=cfg.max_cost_per_minute,
            prices={m: (p.input, p.output) for m, p in cfg.prices.items()},
            abnormal_finish_reasons=frozenset(r.strip() for r in cfg.abnormal_finish_reasons),
            max_abnormal_finish_share=cfg.max_abnormal_finish_share,
        )
        self.usage[s.name] = UsageEvaluator(s.name, limits, suffix=self._suffix)

    def _evaluators(self, s: SystemConfig) -> tuple[SloEvaluator, SloEvaluator]:
        suffix = self._suffix
        return (
            SloEvaluator(
                s.name,
                target=s.gateway.slo.availability_target,
                slo_name=f"{s.name}-availability{suffix}" if suffix else None,
            ),
            SloEvaluator(
                s.name,
                target=s.gateway.slo.latency_target,
                kind="latency",
                latency_threshold_ms=s.gateway.slo.latency_threshold_ms,
                slo_name=f"{s.name}-latency{suffix}" if suffix else None,
            ),
        )

    def _system(self, name: str) -> SystemConfig | None:
        """The system's config; a signal source's unknown system gets the defaults."""
        system = self.systems.get(name)
        if system is not None or not self.adopt_unknown:
            return system
        if len(self.systems) >= MAX_ADOPTED_SYSTEMS:
            return None
        try:
            system = SystemConfig(name=name)
        except ValueError:
            return None
        self.systems[name] = system
        self.slos[name] = self._evaluators(system)
        self._add_usage(system)
        return system

    @property
    def backlog(self) -> int:
        """Exchanges waiting for the thread (signal sources push back on a full queue)."""
        return len(self._pending)

    def submit(self, exchange: Exchange) -> None:
        """Queue one exchange (called on the event loop; never blocks)."""
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self.submitted += 1
        self._pending.append(exchange)
        if self._thread is None:
            self.start()

    def submit_all(self, exchanges: list[Exchange]) -> None:
        """Queue a signal source's export in one step (never blocks): the thread then takes
        it whole, so an SLO is never judged on the first span of an export alone."""
        room = max(0, MAX_PENDING - len(self._pending))
        self.dropped += max(0, len(exchanges) - room)
        taken = exchanges[:room]
        if not taken:
            return
        self.submitted += len(taken)
        self._pending.extend(taken)  # one C call: the thread sees all of it or none
        if self._thread is None:
            self.start()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._loop, name="defib-gateway-post", daemon=True
                )
                self._thread.start()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is processed (tests, shutdown)."""
        target = self.submitted
        deadline = time.monotonic() + timeout
        while self.processed < target:
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Process what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
        if thread is not None:
            self._wake.set()
            thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            stopping = self._stopping
            if not self._pending:
                self._idle()
            while self._pending:
                jobs = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
                self._commit(jobs)
            if stopping:
                return

    def _idle(self) -> None:
        """Periodic work that must happen without traffic too (pruning above all)."""
        try:
            self._evaluate_slos()
            self._write([])
        except Exception:
            log.exception("gateway maintenance failed")

    def _commit(self, jobs: list[Exchange]) -> None:
        try:
            captures: list[Capture] = []
            for ex in jobs:
                try:
                    capture = self._process(ex)
                except Exception:
                    log.exception("gateway post-processing failed for %s", ex.request_id)
                    continue
                if capture is not None:
                    captures.append(capture)
            self._evaluate_slos()
            self._write(captures)
        finally:
            self.processed += len(jobs)

    # -- one exchange -------------------------------------------------------------------

    def _process(self, ex: Exchange) -> Capture | None:
        system = self._system(ex.system)
        if system is None:
            return None
        ts = ex.at.timestamp()
        if ex.from_model and ex.timed:
            available, latency = self.slos[ex.system]
            available.record((ts, ex.status_code < 500))
            if ex.status_code < 500:
                latency.record((ts, ex.latency_ms))
            if ex.trace_id and ex.span_id:
                slow = ex.latency_ms > (latency.latency_threshold_ms or float("inf"))
                for burned, evaluator in ((ex.status_code >= 500, available), (slow, latency)):
                    if burned:
                        ids = self._burners.setdefault(evaluator.slo_name, deque(maxlen=10))
                        ids.append((ex.trace_id, ex.span_id))
        if ex.version is not None and ex.status_code < 500:
            self._served.add((ex.system, ex.version))
        text = self._text(ex)
        usage = self.usage.get(ex.system)
        if usage is not None and ex.from_model and ex.timed:
            self._record_usage(usage, system, ex)
        prompt = protocol.prompt_text(ex.endpoint, ex.request)
        context = protocol.context_text(ex.request) if ex.context_trusted else None
        findings: list[Finding] = []
        if text and ex.status_code == 200 and ex.from_model and system.gateway.detect:
            findings = inspection.inspect(
                text, context, system.gateway.detect, system.gateway.pii_allow
            )
        if findings and not ex.probe:
            self._raise(system, ex, prompt, text, context, findings)
        if not ex.sampled:
            return None
        masked = system.gateway.capture.mask_pii
        hits = tuple({"detector": "filter", "entity": h, "count": 1} for h in ex.filter_hits)
        return Capture(
            system=ex.system,
            version=ex.version,
            at=ex.at,
            request_id=ex.request_id,
            endpoint=ex.endpoint,
            prompt=_storable(inspection.mask(prompt) if masked else prompt),
            response=_storable(inspection.mask(text) if masked else text),
            masked=masked,
            status_code=ex.status_code,
            latency_ms=round(ex.latency_ms),
            streamed=ex.streamed,
            blocked=ex.blocked,
            user_id=PROBE_USER if ex.probe else (ex.user_id and _storable(ex.user_id)),
            findings=inspection.merge_findings(inspection.summarise(findings), hits),
        )

    def _record_usage(self, usage: UsageEvaluator, system: SystemConfig, ex: Exchange) -> None:
        if ex.streamed and ex.body and ex.input_tokens is None and ex.output_tokens is None:
            read_stream_usage(ex, ex.body)
        model = ex.model
        prices = usage.limits.prices
        if prices and model not in prices and ex.version is not None:
            # Upstreams answer with dated snapshot names; the version's configured model
            # is the name a price table is more likely to use.
            configured = next((v.model for v in system.versions if v.name == ex.version), None)
            model = configured if configured in prices else model
        usage.record(ex.at, ex.input_tokens, ex.output_tokens, ex.finish_reasons, model)
        if ex.trace_id and ex.span_id:
            # The calls a breach names: the latest metered ones for the token checks (each
            # added to the volume), the latest that ended abnormally for the finish check.
            span = (ex.trace_id, ex.span_id)
            if ex.input_tokens is not None or ex.output_tokens is not None:
                self._burned(usage.slo_names["tokens"]).append(span)
            if usage.is_abnormal(ex.finish_reasons):
                self._burned(usage.slo_names["finish"]).append(span)

    def _burned(self, slo: str) -> deque[tuple[str, str]]:
        return self._burners.setdefault(slo, deque(maxlen=10))

    def _text(self, ex: Exchange) -> str:
        if ex.text is not None:
            return ex.text
        if not ex.body:
            return ""
        if ex.streamed:
            return protocol.streamed_text(ex.endpoint, ex.body)
        try:
            obj = orjson.loads(ex.body)
        except orjson.JSONDecodeError:
            return ""
        if not isinstance(obj, dict):
            return ""
        # Parsed here anyway, off the request path: usage costs the gateway nothing.
        read_usage(ex, obj)
        return protocol.response_text(ex.endpoint, obj)

    def _raise(
        self,
        system: SystemConfig,
        ex: Exchange,
        prompt: str,
        text: str,
        context: str | None,
        findings: list[Finding],
    ) -> None:
        now = time.monotonic()
        for kind, found in inspection.incident_types(findings).items():
            offence = Offence(
                request_id=ex.request_id,
                version=ex.version,
                # The sample in the alert is always masked, whatever the capture setting.
                prompt=inspection.mask(prompt),
                response=inspection.mask(text),
                user_id=ex.user_id,
                context=inspection.mask(context) if context else None,
                findings=tuple(found),
                client=ex.client,
                # Against all the client sent, not just its text parts (issue 25).
                unechoed=unechoed(found, protocol.client_sent(ex.request)),
                trace_id=ex.trace_id,
                span_id=ex.span_id,
            )
            offences = self.limiter.offer(system.name, kind, offence, now)
            if offences:
                self._send(detection_alert(system.name, kind, offences, source=self.source))

    def _send(self, payload: dict[str, Any]) -> None:
        try:
            self.alert(payload)
        except Exception:
            log.exception("gateway alert could not be raised: %s", payload.get("title"))

    # -- periodic work ------------------------------------------------------------------

    def _evaluate_slos(self) -> None:
        now = time.monotonic()
        if now - self._last_slo < SLO_EVALUATE_SECONDS:
            return
        self._last_slo = now
        wall = self.clock()
        evaluators: list[SloEvaluator | UsageEvaluator] = [
            e for pair in self.slos.values() for e in pair
        ]
        evaluators.extend(self.usage.values())
        for evaluator in evaluators:
            alerts = evaluator.evaluate(wall)
            # Rules (checks) come most severe first: while the page rule fires, the ticket
            # rule of the same SLO would only open a second incident for the same problem.
            firing: list[dict[str, Any]] = []
            for a in alerts:
                slo = a["labels"]["slo"]
                if a["status"] == "firing" and all(f["labels"]["slo"] != slo for f in firing):
                    firing.append(a)
            for alert in firing + [a for a in alerts if a["status"] != "firing"]:
                key = str(alert["dedup_key"])
                # Raise on a change only (starts firing, resolves): not every second.
                if self._slo_status.get(key, "resolved") != alert["status"]:
                    self._slo_status[key] = str(alert["status"])
                    burners = self._burners.get(alert["labels"]["slo"])
                    if burners and alert["status"] == "firing":
                        alert["labels"]["trace_ids"] = ",".join(
                            dict.fromkeys(t for t, _ in burners)
                        )
                        alert["labels"]["span_ids"] = ",".join(s for _, s in burners)
                    self._send(alert)

    def _write(self, captures: list[Capture]) -> None:
        now = time.monotonic()
        prune = now - self._last_prune >= PRUNE_SECONDS
        served = now - self._last_served >= NOTE_SERVED_SECONDS and bool(self._served)
        if not captures and not prune and not served:
            return
        wall = self.clock()
        try:
            with self.db.write() as conn:
                systems_repo.insert_captures(conn, captures)
                if served:
                    for system, version in sorted(self._served):
                        systems_repo.note_served(conn, system, version, wall)
                if prune:
                    for s in self.systems.values():
                        before = wall - timedelta(days=s.gateway.capture.retention_days)
                        systems_repo.prune_captures(conn, s.name, before)
        except Exception:
            log.exception("gateway: %d capture(s) could not be written", len(captures))
            return
        if served:
            self._served.clear()
            self._last_served = now
        if prune:
            self._last_prune = now
