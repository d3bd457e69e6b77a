"""The live L4 router: an OpenAI-compatible HTTP server that runs any GlobalScheduler.

Endpoints: POST /v1/completions (text or token-id prompt), POST /v1/chat/completions, GET /v1/models,
GET /health, GET /metrics (Prometheus text). Every request is served as a chain of hops (see hops.py);
the final SSE chunk (streaming) or the JSON body carries an extra "l4bench" object with the request
id, the instances it ran on, num_hops, recomputed_tokens, stall_s and error.

Text prompts: with `RouterConfig.tokenizer` they are tokenized and served like token-id prompts. Without
one the first hop sends the text as is and learns the prompt's token ids from the engine's echo
(vLLM `return_token_ids`); later hops then use token ids. Chat requests work the same way (first hop
on the engine's chat endpoint, later hops as token-id completions). Scheduling and the length check
use an estimate (4 characters a token) until the ids are known; the engine rejects over-long text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from l4bench.engines.base import EngineAdapter
from l4bench.live.endpoint import Endpoint
from l4bench.live.hops import HopDriver
from l4bench.live.kv_hops import KvHopConfig
from l4bench.live.prom import render_metrics
from l4bench.live.resolver import OffLoopResolver, defers_resolves
from l4bench.live.router_api import (
    MAX_TOKENS_HEADER,
    ClientError,
    client_max_tokens,
    decode_json,
    error_body,
    parse_request,
)
from l4bench.live.router_http import forward_json, json_error, json_errors
from l4bench.live.router_respond import error_response, respond_stream, respond_whole
from l4bench.live.router_state import Flight, RouterState
from l4bench.sched.base import GlobalScheduler
from l4bench.types import Decision, RequestView

log = logging.getLogger(__name__)


@dataclass
class RouterConfig:
    """Router settings; see the module docstring for how text prompts are handled."""

    model_name: str
    max_model_len: int
    api_key: str | None = None
    max_body_bytes: int = 8 << 20
    backend_timeout_s: float = 600.0
    max_queue: int = 4096  # requests in flight at once; more -> 429
    max_hop_retries: int = 2  # continuations after instance failures, per request
    load_poll_interval_s: float = 0.5
    # consecutive slow or unreadable load polls before an instance is taken out of routing; a refused
    # or dropped connection takes it out at once. A busy engine answers /metrics late (vLLM's API
    # server shares its CPU with streaming), and one late answer must not make it look dead.
    poll_misses_to_down: int = 3
    tokenizer: Any = None  # encode(str) -> list[int], decode(list[int]) -> str
    default_max_tokens: int = 16  # when the client sends none (OpenAI's completions default)
    kv_capacity_tokens: int | None = None  # per instance; default: scheduler.cluster.kv_capacity_tokens
    kv_transfer: str | None = None  # nixl: bound hops pull the source's KV (kv_hops.py); None: recompute
    kv_bytes_per_token: int = 0  # the model's, for each KV hop's bytes-moved estimate
    kv_transfer_timeout_s: float = 60.0  # handoff call / destination silence before falling back


class RouterServer:
    """One router process: start() serves HTTP on host:port, stop() shuts everything down."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        scheduler: GlobalScheduler,
        adapter: EngineAdapter,
        config: RouterConfig,
    ) -> None:
        self.endpoints = list(endpoints)
        self.scheduler = scheduler
        self.adapter = adapter
        self.config = config
        cap = config.kv_capacity_tokens
        if cap is None:
            cap = int(getattr(getattr(scheduler, "cluster", None), "kv_capacity_tokens", 0) or 0)
        self.state = RouterState(self.endpoints, cap)
        self.url: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._driver: HopDriver | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._site: web.TCPSite | None = None
        self.is_draining = False
        # re-plans (L4's DP) run in a worker thread, not on the event loop that streams tokens
        self.resolver = OffLoopResolver(scheduler) if defers_resolves(scheduler) else None

    def app(self) -> web.Application:
        """The aiohttp application with the router's routes."""
        app = web.Application(client_max_size=self.config.max_body_bytes, middlewares=[json_errors])
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/tokenize", self._forward)
        app.router.add_post("/detokenize", self._forward)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Open the backend session, start the poll/rebalance loops and listen; returns the base URL."""
        connector = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(connector=connector)
        self._driver = HopDriver(
            self.state,
            self.scheduler,
            self.adapter,
            self._session,
            self.config.backend_timeout_s,
            self.config.max_hop_retries,
            KvHopConfig(self.config.kv_bytes_per_token, self.config.kv_transfer_timeout_s)
            if self.config.kv_transfer else None,
        )
        self._runner = web.AppRunner(
            self.app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._site = site
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        self._tasks.append(asyncio.create_task(self._poll_loop()))
        interval = getattr(self.scheduler, "rebalance_interval_s", None)
        if interval:
            self._tasks.append(asyncio.create_task(self._rebalance_loop(float(interval))))
        if self.resolver is not None:
            self._tasks.append(asyncio.create_task(self.resolver.run()))
        return self.url

    async def stop(self) -> None:
        """Stop the loops, close client connections and the backend session."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.resolver is not None:
            self.resolver.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drain(self, timeout_s: float) -> int:
        """Stop accepting (new connections and new requests: 503), wait for flights; returns those left."""
        self.is_draining = True
        if self._site is not None:
            await self._site.stop()  # closes the listening socket; open connections finish
            self._site = None
        deadline = time.monotonic() + timeout_s
        while self.state.flights and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return len(self.state.flights)

    def mark_unhealthy(self, instance_id: int) -> None:
        """Take an instance out of routing until mark_healthy (in-flight hops there fail over when they break)."""
        self.state.sticky_down.add(instance_id)

    def mark_healthy(self, instance_id: int) -> None:
        """Undo mark_unhealthy (a failed instance also returns once its load poll succeeds)."""
        self.state.sticky_down.discard(instance_id)
        self.state.failed_down.discard(instance_id)

    # ---- background loops -------------------------------------------------------------------

    async def _poll_one(self, endpoint: Endpoint) -> None:
        assert self._session is not None
        iid, misses_to_down = endpoint.instance_id, self.config.poll_misses_to_down
        try:
            load = await self.adapter.fetch_load(self._session, endpoint.url)
        except asyncio.TimeoutError:  # slow (aiohttp's timeouts are TimeoutErrors): keep its last load
            self.state.poll_missed(iid, misses_to_down)
        except aiohttp.ClientConnectorError:  # could not connect (refused, no route): the instance is gone
            self.state.failed_down.add(iid)
        except (aiohttp.ClientError, OSError, ValueError):
            # an error status, unreadable metrics, or a connection dropped after it was made (a
            # server closing an idle keep-alive connection as the poll reuses it looks the same):
            # a miss, not proof that the instance is gone
            self.state.poll_missed(iid, misses_to_down)
        else:
            self.state.poll_succeeded(iid, load)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.gather(*(self._poll_one(e) for e in self.endpoints))
            await asyncio.sleep(self.config.load_poll_interval_s)

    def rebalance_once(self) -> int:
        """Ask the scheduler for migrations and start them (cut the hop; it continues elsewhere)."""
        migrations = self.scheduler.rebalance(self.state.views(detail=True), time.monotonic())
        started = 0
        for m in migrations:
            f = self.state.flights.get(m.request_id)
            if f is None or f.instance != m.src_instance or m.dst_instance == m.src_instance:
                continue
            if (
                f.pending_move is not None
                or f.finish_reason is not None
                or not self.state.is_healthy(m.dst_instance)
            ):
                continue
            f.pending_move = Decision(m.dst_instance, m.hop_at_tokens)
            if f.upstream is not None:
                f.upstream.close()
            started += 1
        return started

    async def _rebalance_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.rebalance_once()
            except Exception:  # keep serving when a scheduler's rebalance breaks
                log.exception("scheduler.rebalance failed")

    # ---- small endpoints --------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        if self.is_draining:
            return web.json_response({"status": "draining", "healthy_instances": []}, status=503)
        healthy = self.state.healthy_ids()
        body = {"status": "ok" if healthy else "no healthy instance", "healthy_instances": healthy}
        return web.json_response(body, status=200 if healthy else 503)

    async def _models(self, request: web.Request) -> web.Response:
        if (denied := self._auth_error(request)) is not None:
            return denied
        card = {
            "id": self.config.model_name,
            "object": "model",
            "owned_by": "l4bench",
            "max_model_len": self.config.max_model_len,
        }
        return web.json_response({"object": "list", "data": [card]})

    async def _metrics(self, request: web.Request) -> web.Response:
        snapshot = None
        snap = getattr(self.scheduler, "snapshot", None)
        if callable(snap):
            try:
                snapshot = snap(time.monotonic())
            except Exception:
                log.exception("scheduler.snapshot failed")
        return web.Response(
            text=render_metrics(self.state, snapshot), content_type="text/plain", charset="utf-8"
        )

    async def _forward(self, request: web.Request) -> web.Response:
        """/tokenize and /detokenize: passed to the least loaded healthy instance."""
        if (denied := self._auth_error(request)) is not None:
            return denied
        inst = self.state.least_loaded_healthy()
        if inst is None or self._session is None:
            return json_error(503, "no healthy instance")
        try:
            raw = await self._read(request)
        except ClientError as exc:
            return json_error(exc.status, exc.message)
        url = self.state.endpoints[inst].url
        return await forward_json(self._session, url, request.path, raw, self.config.backend_timeout_s)

    def _auth_error(self, request: web.Request) -> web.Response | None:
        key = self.config.api_key
        if key is None or request.headers.get("Authorization", "") == f"Bearer {key}":
            return None
        body = error_body(
            401, "Missing or invalid API key (send 'Authorization: Bearer <key>').", "AuthenticationError"
        )
        return web.json_response(body, status=401)

    # ---- completions ------------------------------------------------------------------------

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, is_chat=False)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, is_chat=True)

    async def _read(self, request: web.Request) -> bytes:
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise ClientError(413, f"Request body too large ({request.content_length} bytes; limit {limit}).")
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ClientError(413, f"Request body too large (limit {limit} bytes).") from None

    async def _admit(self, request: web.Request, is_chat: bool) -> Flight:
        """Validate a request and register it; raises ClientError (4xx)."""
        body = decode_json(await self._read(request))
        cfg = self.config
        parsed = parse_request(
            body,
            is_chat=is_chat,
            model_name=cfg.model_name,
            max_model_len=cfg.max_model_len,
            default_max_tokens=cfg.default_max_tokens,
            tokenizer=cfg.tokenizer,
        )
        if is_chat and self.adapter.chat_path is None:
            raise ClientError(
                400,
                f"Chat completions are not supported with engine {self.adapter.name}; use /v1/completions.",
            )
        if len(self.state.flights) >= cfg.max_queue:
            raise ClientError(
                429,
                f"Router queue is full ({cfg.max_queue} requests in flight); retry later.",
                "RateLimitError",
            )
        now = time.monotonic()
        seq = self.state.next_seq()
        rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        cap = client_max_tokens(parsed, request.headers.get(MAX_TOKENS_HEADER))
        req = RequestView(seq, now, parsed.prompt_tokens_estimate, cap, prompt_text=parsed.prompt_text)
        flight = Flight(
            seq=seq, request_id=rid, req=req, parsed=parsed, prompt_ids=parsed.prompt_ids, arrival_s=now
        )
        self.state.flights[seq] = flight
        self.state.counters.requests += 1
        return flight

    async def _serve(self, request: web.Request, is_chat: bool) -> web.StreamResponse:
        if (denied := self._auth_error(request)) is not None:
            return denied
        if self.is_draining:
            return json_error(503, "The router is shutting down; retry on another replica.")
        try:
            flight = await self._admit(request, is_chat)
        except ClientError as exc:
            self.state.counters.rejected += 1
            return web.json_response(
                error_body(exc.status, exc.message, exc.kind, exc.param), status=exc.status
            )
        try:
            try:
                decision = self.scheduler.route(flight.req, self.state.views(), time.monotonic())
            except Exception as exc:
                flight.error, flight.error_status = f"scheduler error: {exc!r}", 500
                return self._error_response(flight)
            if flight.parsed.stream:
                return await self._respond_stream(request, flight, decision)
            return await self._respond_whole(flight, decision)
        except (asyncio.CancelledError, ConnectionResetError):
            flight.error = "client disconnected"
            self.state.counters.disconnected += 1
            self._abort_upstream(flight)
            raise
        finally:
            self._finish(flight)

    def _abort_upstream(self, flight: Flight) -> None:
        if flight.upstream is not None:
            flight.upstream.close()  # vLLM aborts a request whose stream closes
        if flight.instance is not None and self._session is not None and flight.num_segments:
            url = self.state.endpoints[flight.instance].url
            rid = f"{flight.request_id}-{flight.num_segments - 1}"
            asyncio.get_running_loop().create_task(self.adapter.abort(self._session, url, rid))

    def _finish(self, flight: Flight) -> None:
        self.state.unplace(flight)
        self.state.flights.pop(flight.seq, None)
        if flight.error is None and flight.finish_reason is not None:
            self.state.counters.completed += 1
        else:
            self.state.counters.failed += 1
            flight.error = flight.error or "request ended without a result"
        try:
            self.scheduler.on_finish(flight.req, len(flight.generated_ids), time.monotonic())
        except Exception:
            log.exception("scheduler.on_finish failed")

    def _error_response(self, flight: Flight) -> web.Response:
        return error_response(flight)

    async def _respond_whole(self, flight: Flight, decision: Decision) -> web.Response:
        assert self._driver is not None
        return await respond_whole(self._driver, self.config.model_name, flight, decision)

    async def _respond_stream(
        self, request: web.Request, flight: Flight, decision: Decision
    ) -> web.StreamResponse:
        assert self._driver is not None
        return await respond_stream(self._driver, self.config.model_name, request, flight, decision)
