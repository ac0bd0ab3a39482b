"""The request path: select the system, apply its state, forward, filter, hand off.

Starlette requests and responses rather than FastAPI: the bodies are OpenAI's and pass
through mostly untouched, so FastAPI's validation and dependency resolution would only add
work per request (the latency budget is about 2 ms p50 on top of the upstream).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from defib.auth import Permission, Role
from defib.clock import utcnow
from defib.config import ModelVersionConfig, Settings, SystemConfig
from defib.gateway import protocol
from defib.gateway.errors import error_bytes
from defib.gateway.filters import FilterSet
from defib.gateway.postprocess import AlertSink, Exchange, PostProcessor, read_usage
from defib.gateway.routing import Directory, FallbackMessage, Refusal, bearer, key_hash, route
from defib.gateway.state import StateCache
from defib.gateway.streams import FilteredStream, filtered
from defib.store.database import Database
from defib.store.token_cache import TokenCache
from defib.telemetry import MEDIA_TYPE as METRICS_MEDIA_TYPE

# Sent by verify_endpoint: the state revision its probes must be served under.
MIN_REVISION_HEADER = "x-defib-min-revision"

log = logging.getLogger(__name__)

JSON = "application/json"
PROBE_ROLES = (Role.RESPONDER, Role.ADMIN)


def _error(refusal: Refusal, headers: dict[str, str] | None = None) -> Response:
    return Response(
        error_bytes(refusal.message, refusal.type, refusal.code),
        status_code=refusal.status,
        media_type=JSON,
        headers=headers,
    )


class Gateway:
    """One gateway process's state: config, the state cache, the upstream connection pool."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        tokens: TokenCache,
        alert: AlertSink,
        *,
        clock: Callable[[], datetime] = utcnow,
        observe: Callable[[str, int, float, float | None], None] | None = None,
        render_metrics: Callable[[], bytes] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        # Told (system, status, seconds, upstream seconds) of every answered completion.
        self.observe = observe
        self.render_metrics = render_metrics
        self.directory = Directory.build(
            settings.systems, allow_anonymous=settings.gateway.allow_anonymous
        )
        self.context_keys = {
            s.name: frozenset(s.gateway.context_key_hashes) for s in settings.systems
        }
        self.state = StateCache(db, settings.gateway.state_refresh_seconds)
        self.tokens = tokens
        self.post = PostProcessor(settings, db, alert, clock)
        # Streams whose relay has started and not yet handed its exchange to `post`: a
        # client has the last chunk before the relay's `finally` submits it, so whoever
        # waits for the post-processor (tests, `drain`) must wait for these first.
        self.relaying = 0
        self.clock = clock
        self.max_body = settings.max_body_bytes
        # Upstream API keys named by `api_key_env`, looked up in the environment the root
        # read (`Runtime.secrets`). Copied once: a key rotated in the environment needs a
        # restart, like any config.
        env: Mapping[str, str] = {} if secrets is None else secrets
        self.upstream_keys: dict[tuple[str, str], str] = {
            (s.name, v.name): env[v.api_key_env]
            for s in settings.systems
            for v in s.versions
            if v.api_key_env and env.get(v.api_key_env)
        }
        self.timeouts = {s.name: httpx.Timeout(s.gateway.timeout_seconds) for s in settings.systems}
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the gateway is not started")
        return self._client

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        # One pooled client for every upstream: keep-alive connections are the main saving.
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            headers={"accept-encoding": "identity"},  # loopback/LAN: skip compression
            trust_env=False,  # upstreams are configured explicitly, not via *_PROXY variables
        )
        await anyio.to_thread.run_sync(self.state.start)
        self.post.start()
        try:
            yield
        finally:
            await self._client.aclose()
            self._client = None
            await anyio.to_thread.run_sync(self.state.stop)
            await anyio.to_thread.run_sync(self.post.close)

    # -- small endpoints ----------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        age = time.monotonic() - self.state.refreshed_at if self.state.refreshed_at else None
        # Stale: the database has not answered for a while, so a kill switch or rollback
        # written now would not take effect here. Still 200: every replica shares the
        # database, and a load balancer taking them all out would be a full outage.
        stale = age is None or age > max(5.0, 10 * self.state.interval)
        body = {
            "status": "stale" if stale else "ok",
            "systems": len(self.directory.by_name),
            "state_age_seconds": round(age, 3) if age is not None else None,
        }
        return Response(orjson.dumps(body), media_type=JSON)

    async def metrics(self, request: Request) -> Response:
        """The process's /metrics, so a standalone `defib gateway` can be scraped too."""
        if self.render_metrics is None:
            return _error(Refusal(404, "No metrics here.", "invalid_request_error", "not_found"))
        if not self.settings.metrics.public:
            token = bearer(request.headers.get("authorization"))
            principal = None
            if token:
                hit, principal = self.tokens.cached(token)
                if not hit:
                    principal = await anyio.to_thread.run_sync(self.tokens.lookup, token)
            if principal is None:
                return _error(
                    Refusal(
                        401, "A viewer token is needed.", "invalid_request_error", "unauthorized"
                    ),
                    {"www-authenticate": "Bearer"},
                )
            if not principal.can(Permission.READ):
                return _error(
                    Refusal(403, "The token may not read.", "permission_error", "forbidden")
                )
        body = await anyio.to_thread.run_sync(self.render_metrics)
        return Response(body, media_type=METRICS_MEDIA_TYPE)

    async def models(self, request: Request) -> Response:
        system = self.directory.select(
            request.path_params.get("system"), bearer(request.headers.get("authorization"))
        )
        if isinstance(system, Refusal):
            return _error(system)
        data = [{"id": system.name, "object": "model", "created": 0, "owned_by": "defib"}]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    async def chat(self, request: Request) -> Response:
        return await self.complete(request, protocol.CHAT)

    async def completions(self, request: Request) -> Response:
        return await self.complete(request, protocol.COMPLETIONS)

    # -- completions --------------------------------------------------------------------

    async def _probe_refusal(self, token: str | None) -> Refusal | None:
        if not token:
            return Refusal(
                401, "A probe needs X-Defib-Token.", "invalid_request_error", "probe_unauthorized"
            )
        hit, principal = self.tokens.cached(token)
        if not hit:
            principal = await anyio.to_thread.run_sync(self.tokens.lookup, token)
        if principal is None:
            return Refusal(
                401,
                "The probe's defib token is not valid.",
                "invalid_request_error",
                "probe_unauthorized",
            )
        if principal.role not in PROBE_ROLES:
            return Refusal(
                403,
                "Probes need a defib token of role responder or admin.",
                "permission_error",
                "probe_forbidden",
            )
        return None

    async def _catch_up(self, system: str, wanted: str | None) -> None:
        """Before a probe, make sure this replica serves at least the state it names.

        A verification probes right after a rollback; without this it could meet the
        previous state for up to one refresh interval and fail for nothing.
        """
        if wanted is None or not wanted.isdigit():
            return
        entry = self.state.get(system)
        if entry is None or entry.state.revision < int(wanted):
            await asyncio.to_thread(self.state.refresh)

    async def _admit(
        self, request: Request
    ) -> tuple[SystemConfig, dict[str, Any], str | None, bool] | Response:
        """Authenticate, select the system, parse the body; or the error answer."""
        headers = request.headers
        probe = headers.get("x-defib-probe") == "1"
        if probe:
            refusal = await self._probe_refusal(headers.get("x-defib-token"))
            if refusal is not None:
                return _error(refusal)
        key = bearer(headers.get("authorization"))
        system = self.directory.select(request.path_params.get("system"), key, probe=probe)
        if isinstance(system, Refusal):
            return _error(system)
        if probe:
            await self._catch_up(system.name, headers.get(MIN_REVISION_HEADER))
        raw = await request.body()
        if len(raw) > self.max_body:
            return _error(
                Refusal(
                    413, "The request body is too large.", "invalid_request_error", "body_too_large"
                )
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return _error(
                Refusal(
                    400, "The body must be a JSON object.", "invalid_request_error", "invalid_json"
                )
            )
        return system, body, key, probe

    async def complete(self, request: Request, endpoint: str) -> Response:
        started = time.perf_counter()
        admitted = await self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        system, body, key, probe = admitted
        hashed = key_hash(key) if key is not None and system.gateway.api_key_hashes else None
        entry = self.state.get(system.name)
        decision = route(system, entry.state if entry is not None else None, probe=probe)
        rate = system.gateway.capture.sample_rate
        exchange = Exchange(
            system=system.name,
            version=None,
            request_id=uuid.uuid4().hex,
            endpoint=endpoint,
            at=self.clock(),
            request=body,
            status_code=200,
            latency_ms=0.0,
            streamed=body.get("stream") is True,
            user_id=protocol.user_of(body, request.headers.get("x-defib-user")),
            probe=probe,
            sampled=rate >= 1.0 or (rate > 0.0 and random.random() < rate),
            # Only a key the system knows identifies a client: anything else is anonymous.
            client=hashed[:16] if hashed is not None else None,
            context_trusted=hashed is not None and hashed in self.context_keys[system.name],
        )
        out_headers = {"x-defib-request-id": exchange.request_id}
        if isinstance(decision, Refusal):
            exchange.status_code = decision.status
            exchange.from_model = False
            self._finish(exchange, started)
            return _error(decision, out_headers)
        if isinstance(decision, FallbackMessage):
            exchange.text = decision.text
            exchange.from_model = False
            self._finish(exchange, started)
            return self._fallback(endpoint, system, decision.text, exchange, out_headers)
        version = decision.version
        exchange.version = version.name
        out_headers["x-defib-version"] = version.name
        filters = entry.filters if entry is not None else FilterSet()
        url, content, up_headers = self._upstream_request(
            endpoint, system, version, body, key, probe=probe
        )
        timeout = self.timeouts[system.name]
        if exchange.streamed:
            model = str(body.get("model") or system.name)
            return await self._stream(
                url, content, up_headers, timeout, exchange, filters, started, out_headers, model
            )
        upstream_started = time.perf_counter()
        try:
            resp = await self.client.post(url, content=content, headers=up_headers, timeout=timeout)
        except httpx.HTTPError as exc:
            return self._upstream_failed(exc, system, exchange, started, out_headers)
        finally:
            exchange.upstream_ms = (time.perf_counter() - upstream_started) * 1000
        answer = resp.content
        exchange.status_code = resp.status_code
        if resp.status_code == 200 and filters:
            answer = self._filter_body(endpoint, answer, filters, exchange)
        else:
            exchange.body = answer
        self._finish(exchange, started)
        return Response(
            answer,
            status_code=resp.status_code,
            media_type=resp.headers.get("content-type", JSON),
            headers=out_headers,
        )

    def _upstream_request(
        self,
        endpoint: str,
        system: SystemConfig,
        version: ModelVersionConfig,
        body: dict[str, Any],
        key: str | None,
        *,
        probe: bool,
    ) -> tuple[str, bytes, dict[str, str]]:
        """URL, body and headers of the upstream call."""
        payload = body
        if protocol.CONTEXT_FIELD in body or (version.model and body.get("model") != version.model):
            payload = dict(body)
            payload.pop(protocol.CONTEXT_FIELD, None)
            if version.model:
                payload["model"] = version.model
        assert version.upstream is not None  # route() only picks versions with an upstream
        suffix = "/chat/completions" if endpoint == protocol.CHAT else "/completions"
        headers = {"content-type": JSON}
        upstream_key = self.upstream_keys.get((system.name, version.name))
        if upstream_key is not None:
            headers["authorization"] = f"Bearer {upstream_key}"
        elif key is not None and system.gateway.forward_client_authorization and not probe:
            # Only where the operator said so: the client's key is the upstream's. Never by
            # default, or a gateway key (or any caller's token) would leak to the model host.
            headers["authorization"] = f"Bearer {key}"
        return version.upstream.rstrip("/") + suffix, orjson.dumps(payload), headers

    def _finish(self, exchange: Exchange, started: float) -> None:
        exchange.latency_ms = (time.perf_counter() - started) * 1000
        if exchange.upstream_started is not None:
            # A stream: the upstream's share runs from sending to the end of the relay.
            exchange.upstream_ms = (time.perf_counter() - exchange.upstream_started) * 1000
        self.post.submit(exchange)
        if self.observe is not None:
            upstream = exchange.upstream_ms / 1000 if exchange.upstream_ms is not None else None
            self.observe(
                exchange.system, exchange.status_code, exchange.latency_ms / 1000, upstream
            )

    def _upstream_failed(
        self,
        exc: httpx.HTTPError,
        system: SystemConfig,
        exchange: Exchange,
        started: float,
        headers: dict[str, str],
    ) -> Response:
        if isinstance(exc, httpx.TimeoutException):
            refusal = Refusal(
                504,
                f"The model behind {system.name} did not answer within "
                f"{system.gateway.timeout_seconds:g} s.",
                "server_error",
                "upstream_timeout",
            )
        else:
            refusal = Refusal(
                502,
                f"The model behind {system.name} could not be reached.",
                "server_error",
                "upstream_unavailable",
            )
        exchange.status_code = refusal.status
        self._finish(exchange, started)
        return _error(refusal, headers)

    def _filter_body(
        self, endpoint: str, content: bytes, filters: FilterSet, exchange: Exchange
    ) -> bytes:
        try:
            obj = orjson.loads(content)
        except orjson.JSONDecodeError:
            exchange.body = content
            return content
        if not isinstance(obj, dict):
            exchange.body = content
            return content
        texts = protocol.choice_texts(endpoint, obj)
        exchange.text = "\n".join(texts[i] for i in sorted(texts))
        read_usage(exchange, obj)  # before a block rewrites the finish reason
        hits: set[str] = set()
        changed = False
        for index, text in texts.items():
            new, scan = filters.apply(text)
            hits.update(scan.hits)
            if new != text:
                changed = True
                protocol.set_choice_text(endpoint, obj, index, new, delta=False)
            if scan.blocked:
                exchange.blocked = True
                protocol.set_finish_reason(obj, index, "content_filter")
        exchange.filter_hits = tuple(sorted(hits))
        return orjson.dumps(obj) if changed else content

    def _fallback(
        self,
        endpoint: str,
        system: SystemConfig,
        text: str,
        exchange: Exchange,
        headers: dict[str, str],
    ) -> Response:
        model = str(exchange.request.get("model") or system.name)
        if exchange.streamed:
            events = protocol.fallback_stream(endpoint, model, text, exchange.request_id)

            async def replay() -> AsyncIterator[bytes]:
                for e in events:
                    yield e

            return StreamingResponse(replay(), media_type="text/event-stream", headers=headers)
        body = protocol.completion(endpoint, model, text, exchange.request_id)
        return Response(orjson.dumps(body), media_type=JSON, headers=headers)

    async def _stream(
        self,
        url: str,
        content: bytes,
        up_headers: dict[str, str],
        timeout: httpx.Timeout,
        exchange: Exchange,
        filters: FilterSet,
        started: float,
        headers: dict[str, str],
        model: str,
    ) -> Response:
        system = self.directory.by_name[exchange.system]
        up_headers["accept"] = "text/event-stream"
        req = self.client.build_request(
            "POST", url, content=content, headers=up_headers, timeout=timeout
        )
        exchange.upstream_started = time.perf_counter()
        try:
            resp = await self.client.send(req, stream=True)
        except httpx.HTTPError as exc:
            return self._upstream_failed(exc, system, exchange, started, headers)
        if resp.status_code != 200:
            try:
                body = await resp.aread()
            finally:
                await resp.aclose()
            exchange.status_code = resp.status_code
            exchange.streamed = False  # an error answer, not a stream
            exchange.body = body
            self._finish(exchange, started)
            return Response(
                body,
                status_code=resp.status_code,
                media_type=resp.headers.get("content-type", JSON),
                headers=headers,
            )
        guarded = (
            FilteredStream(exchange.endpoint, model, exchange.request_id, filters)
            if filters
            else None
        )
        return StreamingResponse(
            self._relay(resp, exchange, guarded, started),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )

    async def _relay(
        self,
        resp: httpx.Response,
        exchange: Exchange,
        guarded: FilteredStream | None,
        started: float,
    ) -> AsyncIterator[bytes]:
        kept: list[bytes] = []
        self.relaying += 1

        async def upstream() -> AsyncIterator[bytes]:
            async for part in resp.aiter_bytes():
                kept.append(part)
                yield part

        try:
            source = upstream() if guarded is None else filtered(upstream(), guarded)
            async for part in source:
                yield part
        except httpx.HTTPError as exc:
            timeout = isinstance(exc, httpx.TimeoutException)
            exchange.status_code = 504 if timeout else 502
            what = "stopped answering" if timeout else "broke the connection"
            yield protocol.sse_event(
                {
                    "error": {
                        "message": f"The model {what} mid-stream.",
                        "type": "server_error",
                        "code": "upstream_timeout" if timeout else "upstream_unavailable",
                    }
                }
            )
        finally:
            # Hand off first: awaiting below may be cancelled if the client went away.
            if guarded is not None:
                exchange.text = guarded.text()
                exchange.blocked = guarded.blocked
                exchange.filter_hits = guarded.hits()
                if guarded.template is not None:  # the last chunk: usage, if sent
                    read_usage(exchange, guarded.template)
            else:
                exchange.body = b"".join(kept)
            self._finish(exchange, started)
            self.relaying -= 1
            # Shielded: under a cancelled scope every await would be cancelled at once and
            # the upstream connection would never go back to the pool.
            with anyio.CancelScope(shield=True):
                await resp.aclose()


def alert_sink(submit: Callable[[object, str | None, str], Any]) -> AlertSink:
    """Raise alerts through intake (`Intake.submit`): classified now, committed in batches."""

    def send(payload: dict[str, Any]) -> None:
        future = submit(payload, "native", "gateway")
        if hasattr(future, "add_done_callback"):
            future.add_done_callback(_log_failure)

    return send


def _log_failure(future: Any) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("gateway alert was not stored: %s", exc)
