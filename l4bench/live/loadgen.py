"""Open-loop load generator: replays requests at their arrival times against a router or one endpoint.

Each request is sent at ``start + arrival_s`` (optionally capped at ``max_concurrency`` in flight; a
request waiting for a slot keeps its scheduled arrival, so client-side queueing counts as latency),
streamed, and turned into exactly one RequestRecord: raw token times on the replay clock, the hops the
router reports in its ``l4bench`` field, and an error string for anything that did not complete with
every requested token. Exceptions never escape a request: they become error records.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from tqdm.auto import tqdm

from l4bench.engines.base import EngineAdapter
from l4bench.live.router_api import MAX_TOKENS_HEADER
from l4bench.metrics.records import RequestRecord
from l4bench.types import Request
from l4bench.workloads.tokens import token_ids_as_text

TokenIdsFn = Callable[[Request], list[int]]


@dataclass(frozen=True)
class LoadGenConfig:
    """Client behaviour of one replay."""

    max_concurrency: int | None = None  # None: unbounded (pure open loop)
    request_timeout_s: float = 600.0
    show_progress: bool = True
    extra_body: dict[str, Any] = field(default_factory=dict)  # sampling fields added to every body
    headers: dict[str, str] = field(default_factory=dict)
    # Send token-id prompts in their text form ("t17 t523 ..."), for routers that take text only
    # (sglang-router); needs the engine to load tiny-llama's word-level tokenizer.
    ids_as_text: bool = False


class _Stream:
    """Per-request accumulation of streamed chunks."""

    def __init__(self, rec: RequestRecord, t0: float):
        self.rec = rec
        self.t0 = t0
        self.finish_reason: str | None = None
        self.router_info: dict[str, Any] | None = None

    def add(self, adapter: EngineAdapter, chunk: dict[str, Any]) -> None:
        """Account one decoded SSE chunk (or a whole JSON body)."""
        if isinstance(chunk.get("l4bench"), dict):
            self.router_info = chunk["l4bench"]
        if "error" in chunk and not chunk.get("choices"):
            err = chunk["error"]
            self.rec.error = f"engine error: {err.get('message', err) if isinstance(err, dict) else err}"
            return
        if not chunk.get("choices") and "token_ids" not in chunk and "output_ids" not in chunk:
            return
        ids, _text, finish = adapter.parse_chunk(chunk)
        now = time.monotonic() - self.t0
        if ids:
            if self.rec.first_token_s is None:
                self.rec.first_token_s = now
            self.rec.token_times_s.extend([now] * len(ids))
            self.rec.num_generated_tokens += len(ids)
        if finish is not None:
            self.finish_reason = finish


class LoadGenerator:
    """Replays a list of Requests against one OpenAI-style URL and records every request."""

    def __init__(
        self,
        url: str,
        adapter: EngineAdapter,
        token_ids: TokenIdsFn,
        config: LoadGenConfig | None = None,
        scheduler_name: str = "",
    ):
        self.url = url.rstrip("/")
        self.adapter = adapter
        self.token_ids = token_ids
        self.config = config or LoadGenConfig()
        self.scheduler_name = scheduler_name
        self.in_flight: set[int] = set()  # request ids sent and not yet finished (fault accounting)
        self.t0: float | None = None

    def now_s(self) -> float:
        """Seconds since the replay started (0 before it starts)."""
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    async def run(self, requests: list[Request]) -> list[RequestRecord]:
        """Replay requests open-loop; returns one record per request, in request order."""
        cfg = self.config
        limit = cfg.max_concurrency if cfg.max_concurrency and cfg.max_concurrency > 0 else None
        sem = asyncio.Semaphore(limit) if limit else None
        conn = aiohttp.TCPConnector(limit=0, force_close=False)
        bar = tqdm(
            total=len(requests),
            desc=f"live {self.scheduler_name}".strip(),
            disable=not cfg.show_progress,
            unit="req",
        )
        self.t0 = time.monotonic()
        try:
            async with aiohttp.ClientSession(connector=conn) as session:
                tasks = [asyncio.create_task(self._one(session, req, sem, bar)) for req in requests]
                records = await asyncio.gather(*tasks)
        finally:
            bar.close()
        return list(records)

    async def _one(
        self, session: aiohttp.ClientSession, req: Request, sem: asyncio.Semaphore | None, bar: Any
    ) -> RequestRecord:
        """Wait for the arrival time (and a slot), send, stream; never raises."""
        assert self.t0 is not None
        rec = RequestRecord(
            request_id=req.request_id,
            scheduler=self.scheduler_name,
            arrival_s=req.arrival_s,
            prompt_tokens=req.prompt_tokens,
            output_tokens=req.output_tokens,
            tag=req.tag,
        )
        try:
            delay = self.t0 + req.arrival_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if sem is not None:
                async with sem:
                    await self._send(session, req, rec)
            else:
                await self._send(session, req, rec)
        except asyncio.CancelledError:
            rec.error = rec.error or "cancelled: replay stopped before the request finished"
        except Exception as e:  # every failure becomes a record, never a lost request
            rec.error = rec.error or f"client error: {type(e).__name__}: {e}"[:500]
        finally:
            self.in_flight.discard(req.request_id)
            bar.update(1)
        return rec

    def _body(self, req: Request) -> dict[str, Any]:
        """The request body for the router/engine: token-id prompt (or text), ignore_eos, max_tokens.

        max_tokens here is the true output length: with ignore_eos it is the engine's stop (the
        emulated EOS), engine-side information. The client's cap travels in MAX_TOKENS_HEADER; the
        l4bench router shows schedulers only that (router_api.client_max_tokens).
        """
        if req.prompt_text is not None or self.config.ids_as_text:
            text = req.prompt_text if req.prompt_text is not None else token_ids_as_text(self.token_ids(req))
            return self.adapter.text_completion_body(
                text, req.output_tokens, True, dict(self.config.extra_body)
            )
        return self.adapter.completion_body(
            self.token_ids(req), req.output_tokens, True, dict(self.config.extra_body)
        )

    async def _send(self, session: aiohttp.ClientSession, req: Request, rec: RequestRecord) -> None:
        """POST one streamed completion and fill rec from its chunks."""
        assert self.t0 is not None
        body = self._body(req)
        headers = {"X-Request-Id": f"{self.scheduler_name or 'req'}-{req.request_id}", **self.config.headers}
        if req.max_tokens is not None:  # the client's cap for the router; the body carries the stop
            headers[MAX_TOKENS_HEADER] = str(req.max_tokens)
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        st = _Stream(rec, self.t0)
        self.in_flight.add(req.request_id)
        try:
            async with session.post(
                self.url + self.adapter.completions_path, json=body, headers=headers, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    rec.error = _http_error(resp.status, await resp.text(), st)
                    return
                if resp.content_type == "text/event-stream":
                    await self._read_sse(resp, st)
                else:
                    st.add(self.adapter, await resp.json(content_type=None))
        except asyncio.TimeoutError:
            rec.error = f"timeout: no completion within {self.config.request_timeout_s:.0f} s"
        except aiohttp.ClientError as e:
            rec.error = f"connection error: {type(e).__name__}: {e}"[:500]
        finally:
            self._finish(rec, st)

    async def _read_sse(self, resp: aiohttp.ClientResponse, st: _Stream) -> None:
        """Read `data: {...}` lines until [DONE]."""
        buf = b""
        async for piece in resp.content.iter_any():
            buf += piece
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                try:
                    st.add(self.adapter, json.loads(data))
                except json.JSONDecodeError:
                    st.rec.error = f"bad chunk: {data[:200]!r}"

    def _finish(self, rec: RequestRecord, st: _Stream) -> None:
        """Copy router hop info, set finish time, and flag incomplete outputs."""
        info = st.router_info or {}
        if info:
            rec.instances = [int(i) for i in info.get("instances", [])]
            rec.recomputed_tokens = int(info.get("recomputed_tokens", 0) or 0)
            rec.stall_s = float(info.get("stall_s", 0.0) or 0.0)
            hops = [h for h in info.get("hops") or [] if isinstance(h, dict)]
            rec.hop_modes = [str(h.get("mode", "")) for h in hops]
            rec.hop_kv_bytes = [int(h.get("kv_bytes_estimate") or 0) for h in hops]
            rec.hop_stalls_s = [float("nan") if h.get("stall_s") is None else float(h["stall_s"]) for h in hops]
            if info.get("error") and rec.error is None:
                rec.error = f"router: {info['error']}"
        if rec.error is None and rec.num_generated_tokens < rec.output_tokens:
            rec.error = (
                f"incomplete: {rec.num_generated_tokens} of {rec.output_tokens} tokens "
                f"(finish_reason={st.finish_reason}, stream ended without error)"
            )
        if rec.error is None:
            rec.finish_s = time.monotonic() - st.t0


def _http_error(status: int, text: str, st: _Stream) -> str:
    """'http <status>: <message>' from an OpenAI-style error body; keeps the router's hop info."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    msg = text[:300]
    if isinstance(doc, dict):
        if isinstance(doc.get("l4bench"), dict):
            st.router_info = doc["l4bench"]
        err = doc.get("error")
        if isinstance(err, dict) and err.get("message"):
            msg = str(err["message"])[:300]
    return f"http {status}: {msg}"


def replay(
    url: str,
    adapter: EngineAdapter,
    token_ids: TokenIdsFn,
    requests: list[Request],
    config: LoadGenConfig,
    scheduler_name: str = "",
) -> list[RequestRecord]:
    """Synchronous wrapper: one replay in a fresh event loop."""
    gen = LoadGenerator(url, adapter, token_ids, config, scheduler_name)
    return asyncio.run(gen.run(requests))
