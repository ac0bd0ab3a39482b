"""Where signals meet the gateway's post-processing: one hub per API process.

Each `ModelCall` becomes a gateway `Exchange` and goes through the same `PostProcessor`
the gateway runs on its own traffic (inline detection, rate-limited native alerts with the
corroboration labels, SLO burn rates, masked and sampled captures), one instance per
source so that alerts name where they came from (`defib-otlp`, `defib-litellm`) and the
SLOs are measured apart from the gateway's. Systems the configuration does not list are
judged with the default settings (and open incidents like any unknown system's alerts).

The request path only decodes and hands over; post-processing runs in the processors'
threads. A small ticker thread releases spans and events the joiner held too long.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from defib.clock import utcnow
from defib.config import Settings, SystemConfig
from defib.gateway import protocol
from defib.gateway.postprocess import MAX_PENDING, AlertSink, Exchange, PostProcessor
from defib.signals.calls import ModelCall
from defib.signals.join import Joiner
from defib.signals.otlp import ContentEvent
from defib.store.database import Database

log = logging.getLogger(__name__)

OTLP_SOURCE = "defib-otlp"
LITELLM_SOURCE = "defib-litellm"
TICK_SECONDS = 1.0
# Room kept in the post-processing queue for one more export (an SDK batch is 512 spans).
BUSY_MARGIN = 1000

Submit = Callable[[object, str | None, str], Any]


def alert_sink(submit: Submit, actor: str) -> AlertSink:
    """Raise alerts through intake as `actor` (classified now, committed in batches)."""

    def send(payload: dict[str, Any]) -> None:
        future = submit(payload, "native", actor)
        if hasattr(future, "add_done_callback"):
            future.add_done_callback(_log_failure)

    return send


def _log_failure(future: Any) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("signal alert was not stored: %s", exc)


def _version(system: SystemConfig | None, model: str | None) -> str | None:
    """The configured version serving `model`; None when no version names it."""
    if system is None or model is None:
        return None
    return next((v.name for v in system.versions if v.model == model), None)


def to_exchange(
    call: ModelCall, system: SystemConfig | None, sample: Callable[[], float] = random.random
) -> Exchange:
    """The exchange the gateway would have seen for this call."""
    request: dict[str, Any] = {"prompt": call.prompt or ""}
    if call.context:
        request[protocol.CONTEXT_FIELD] = call.context
    rate = system.gateway.capture.sample_rate if system is not None else 1.0
    return Exchange(
        system=call.system,
        version=_version(system, call.model),
        request_id=f"{call.trace_id}:{call.span_id}" if call.key else uuid.uuid4().hex,
        endpoint=protocol.COMPLETIONS,
        at=call.at,
        request=request,
        status_code=call.http_status,
        latency_ms=call.duration_ms,
        user_id=call.user,
        sampled=sample() < rate,
        text=call.output or "",
        client=call.client,
        # The application's own instrumentation reported the retrieved documents (it holds
        # a defib token); no end user chose them as a gateway client can choose its context.
        context_trusted=True,
        trace_id=call.trace_id,
        span_id=call.span_id,
        timed=call.timed,
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        finish_reasons=call.finish_reasons,
        model=call.model,
    )


class SignalHub:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        submit: Submit,
        clock: Callable[[], datetime] = utcnow,
        *,
        joiner: Joiner | None = None,
    ) -> None:
        self.systems = {s.name: s for s in settings.systems}
        self.otlp = PostProcessor(
            settings, db, alert_sink(submit, "otlp"), clock, source=OTLP_SOURCE, adopt_unknown=True
        )
        self.litellm = PostProcessor(
            settings,
            db,
            alert_sink(submit, "litellm"),
            clock,
            source=LITELLM_SOURCE,
            adopt_unknown=True,
        )
        self.joiner = joiner or Joiner()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- intake ---------------------------------------------------------------------------

    def busy(self) -> bool:
        """The queue is nearly full: a sender should retry later rather than be shed."""
        limit = MAX_PENDING - BUSY_MARGIN
        return self.otlp.backlog >= limit or self.litellm.backlog >= limit

    def spans(self, calls: Iterable[ModelCall]) -> None:
        now = time.monotonic()
        with self._lock:
            ready = [c for call in calls for c in self.joiner.span(call, now)]
        self._feed(self.otlp, ready)

    def events(self, events: Iterable[ContentEvent]) -> None:
        now = time.monotonic()
        with self._lock:
            ready = [c for event in events for c in self.joiner.event(event, now)]
        self._feed(self.otlp, ready)

    def litellm_calls(self, calls: Iterable[ModelCall]) -> None:
        self._feed(self.litellm, list(calls))

    def _feed(self, processor: PostProcessor, calls: list[ModelCall]) -> None:
        processor.submit_all([to_exchange(c, self.systems.get(c.system)) for c in calls])
        if self._ticker is None and len(self.joiner):
            self._start()

    # -- held items -----------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._ticker is None:
                self._ticker = threading.Thread(
                    target=self._tick, name="defib-signals-join", daemon=True
                )
                self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.expire()

    def expire(self, now: float | None = None) -> None:
        """Release what waited too long (the ticker calls this every second)."""
        with self._lock:
            ready = self.joiner.expire(time.monotonic() if now is None else now)
        self._feed(self.otlp, ready)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything handed over so far is processed (tests, shutdown)."""
        return self.otlp.drain(timeout) and self.litellm.drain(timeout)

    def close(self) -> None:
        """Release everything held, process what is queued, stop the threads."""
        self._stop.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.join(timeout=5)
        with self._lock:
            ready = self.joiner.flush()
        self.otlp.submit_all([to_exchange(c, self.systems.get(c.system)) for c in ready])
        self.otlp.close()
        self.litellm.close()
