"""Serving one client request as a chain of hops (engine-agnostic migration by recompute).

A hop is one backend request whose max_tokens is capped at the scheduler's bound. When it ends at
the bound (or a rebalance cuts it, or its instance fails) the next hop goes to the instance the
scheduler picks, with prompt + generated token ids as its prompt. The client sees one stream.
With KV transfer on (kv_hops.py) a bound hop to another instance also carries the source's
kv_transfer_params, so the destination pulls the KV instead of recomputing; any failure of that
falls back to recompute for the hop. Every hop is recorded (router_state.hop_record).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from l4bench.engines.base import EngineAdapter
from l4bench.live.kv_hops import KvHopConfig, request_handoff
from l4bench.live.router_state import Flight, RouterState, hop_record
from l4bench.sched.base import GlobalScheduler
from l4bench.types import Decision

log = logging.getLogger(__name__)

#: One engine event as the client will see it: new token ids, new text, finish_reason on the last.
HopEvent = tuple[list[int], str, "str | None"]


@dataclass
class HopResult:
    """How one hop ended: done | bound | moved | failed | rejected."""

    kind: str = "failed"
    finish: str | None = None
    status: int = 502
    message: str = ""


def _error_message(text: str) -> str:
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            err = body.get("error", body.get("detail", body))
            return str(err.get("message", err)) if isinstance(err, dict) else str(err)
    except ValueError:
        pass
    return text[:500]


class HopDriver:
    """Runs the hops of flights against the backends and asks the scheduler where each goes."""

    def __init__(
        self,
        state: RouterState,
        scheduler: GlobalScheduler,
        adapter: EngineAdapter,
        session: aiohttp.ClientSession,
        backend_timeout_s: float,
        max_hop_retries: int,
        kv: KvHopConfig | None = None,
    ) -> None:
        self.state = state
        self.scheduler = scheduler
        self.adapter = adapter
        self.session = session
        self.timeout = aiohttp.ClientTimeout(
            total=backend_timeout_s, sock_connect=min(10.0, backend_timeout_s)
        )
        self.max_hop_retries = max_hop_retries
        self.kv = kv  # None: every hop recomputes

    def _pick(self, decision: Decision) -> int | None:
        """The decided instance if healthy and known, else the least loaded routable one."""
        inst = decision.instance_id
        if inst in self.state.endpoints and self.state.is_healthy(inst):
            return inst
        return self.state.least_loaded_routable()

    def _next_decision(self, flight: Flight, src: int) -> Decision:
        views = self.state.views()
        return self.scheduler.on_bound(flight.req, flight.context_tokens, src, views, time.monotonic())

    def _body(self, flight: Flight, cap: int) -> tuple[dict[str, Any], str]:
        extra = dict(flight.parsed.extra)
        extra["rid"] = f"{flight.request_id}-{flight.num_segments}"
        if flight.prompt_ids is None and flight.parsed.is_chat:
            assert flight.parsed.messages is not None and self.adapter.chat_path is not None
            return self.adapter.chat_body(flight.parsed.messages, cap, True, extra), self.adapter.chat_path
        if flight.prompt_ids is None:
            assert flight.parsed.prompt_text is not None
            return self.adapter.text_completion_body(
                flight.parsed.prompt_text, cap, True, extra
            ), self.adapter.completions_path
        ids = flight.prompt_ids + flight.generated_ids
        body = self.adapter.completion_body(ids, cap, True, extra)
        if flight.kv_params is not None:
            body["kv_transfer_params"] = flight.kv_params
        return body, self.adapter.completions_path

    def _start_segment(self, flight: Flight, inst: int, decision: Decision, mode: tuple[str, str]) -> int:
        """Bookkeeping for a new backend request (mode: the hop's mode and why); returns its max_tokens."""
        hop_prompt = flight.context_tokens
        if flight.num_segments > 0:
            num = 1 if flight.kv_params is not None else hop_prompt  # KV pulled: only the last token
            flight.recomputed_tokens += num
            self.state.counters.recomputed_tokens += num
        if not flight.instances or flight.instances[-1] != inst:
            if flight.instances:
                flight.hops.append({**hop_record(hop_prompt, flight.instances[-1], inst, mode[0]), "reason": mode[1]})
            flight.instances.append(inst)
        flight.hop_at_tokens = decision.hop_at_tokens
        self.state.place(flight, inst, hop_prompt)
        remaining = flight.parsed.max_tokens - len(flight.generated_ids)
        if decision.hop_at_tokens is None:
            return remaining
        return max(1, min(remaining, decision.hop_at_tokens - hop_prompt))

    async def run(self, flight: Flight, decision: Decision) -> AsyncIterator[HopEvent]:
        """Yield one (new token ids, new text, finish) per engine event until the flight finishes.

        finish is set on the request's last event only (as the engine's own last chunk carries it);
        sets flight.finish_reason or flight.error.
        """
        num_failures = 0
        kv_src: int | None = None  # the instance a bound hop just left, holding its KV (KV transfer on)
        while True:
            inst = self._pick(decision)
            if inst is None:
                flight.error, flight.error_status = "every instance is marked down by the operator", 503
                return
            if flight.num_segments > 0 and flight.prompt_ids is None:
                flight.error = "cannot continue on another instance: the prompt's token ids are unknown (set a tokenizer)"
                return
            mode = ("recompute", "")
            if kv_src is not None and inst != kv_src:
                mode = await self._handoff(flight, kv_src)
            kv_src = None
            cap = self._start_segment(flight, inst, decision, mode)
            body, path = self._body(flight, cap)
            is_kv, flight.kv_params = flight.kv_params is not None, None
            flight.num_segments += 1
            result = HopResult()
            num_before = len(flight.generated_ids)
            async for item in self._hop(flight, inst, body, path, result, is_kv):
                yield item
            flight.hop_end_s = time.monotonic() if flight.hop_end_s is None else flight.hop_end_s
            if is_kv and result.kind in ("failed", "rejected") and len(flight.generated_ids) == num_before:
                self._fall_back(flight, result.message)  # resend the hop without params: recompute
                continue
            try:
                if result.kind == "done":
                    flight.finish_reason = result.finish or "length"
                    return
                if result.kind == "rejected":
                    prefix = "" if flight.num_segments == 1 else f"instance {inst} rejected a continuation: "
                    flight.error = prefix + result.message
                    flight.error_status = result.status if flight.num_segments == 1 else 502
                    return
                if result.kind == "moved" and flight.pending_move is not None:
                    decision, flight.pending_move = flight.pending_move, None
                    self.state.counters.migrations += 1
                elif result.kind == "bound":
                    self.state.counters.hops_bound += 1
                    decision = self._next_decision(flight, inst)
                    kv_src = inst if self.kv is not None else None
                else:
                    num_failures += 1
                    self.state.failed_down.add(inst)
                    if num_failures > self.max_hop_retries:
                        flight.error = f"{result.message}; gave up after {num_failures} failed attempts"
                        flight.error_status = result.status
                        return
                    self.state.counters.failovers += 1
                    decision = self._next_decision(flight, inst)
            except Exception as exc:  # a scheduler bug must not hang the client
                flight.error, flight.error_status = f"scheduler error: {exc!r}", 500
                return

    async def _handoff(self, flight: Flight, src: int) -> tuple[str, str]:
        """Ask the source to keep the context's KV; sets flight.kv_params. Returns (hop mode, reason)."""
        assert self.kv is not None and flight.prompt_ids is not None
        extra = {**flight.parsed.extra, "rid": f"{flight.request_id}-{flight.num_segments}-handoff"}
        ids = flight.prompt_ids + flight.generated_ids
        url = self.state.endpoints[src].url
        got = await request_handoff(self.session, self.adapter, url, ids, extra, self.kv.timeout_s)
        flight.kv_params = got.params
        if got.params is not None:
            return "kv_transfer", ""
        self.state.counters.kv_fallbacks += 1
        log.info("request %s: KV handoff from instance %d failed (%s); recomputing", flight.request_id, src, got.reason)
        return "recompute_fallback", got.reason

    def _fall_back(self, flight: Flight, reason: str) -> None:
        """The destination could not take the KV: the hop recomputes instead (counted, recorded)."""
        self.state.counters.kv_fallbacks += 1
        if flight.hops:
            flight.hops[-1].update(mode="recompute_fallback", reason=reason[:300])
        log.info("request %s: KV-transfer hop failed (%s); resending it to recompute", flight.request_id, reason)

    def _close_hop(self, flight: Flight, stall_s: float) -> None:
        """The first token after a hop: its stall, and the KV it moved when it pulled KV."""
        hop = flight.hops[-1] if flight.hops else None
        if hop is None or hop["stall_s"] is not None or hop["dst"] != flight.instance:
            return
        hop["stall_s"] = round(stall_s, 6)
        if hop["mode"] == "kv_transfer" and self.kv is not None:
            hop["kv_bytes_estimate"] = hop["at_tokens"] * self.kv.kv_bytes_per_token
            self.state.counters.kv_hops += 1
            self.state.counters.kv_bytes_estimate += hop["kv_bytes_estimate"]

    def _on_tokens(self, flight: Flight, ids: list[int], text: str, finish: str | None) -> HopEvent:
        remaining = flight.parsed.max_tokens - len(flight.generated_ids)
        ids = ids[:remaining]
        if not flight.is_running:
            flight.is_running = True
            if flight.hop_end_s is not None:
                stall = time.monotonic() - flight.hop_end_s
                flight.stall_s += stall
                flight.hop_end_s = None
                self._close_hop(flight, stall)
        flight.generated_ids.extend(ids)
        flight.text_parts.append(text)
        self.state.counters.generated_tokens += len(ids)
        self.state.counters.token_events += 1
        return ids, text, finish

    async def _hop(
        self, flight: Flight, inst: int, body: dict[str, Any], path: str, result: HopResult, is_kv: bool = False
    ) -> AsyncIterator[HopEvent]:
        """Stream one backend request, one event per engine event; result says how it ended.

        Client-facing messages name the instance by id only; its address goes to the log. A KV
        pull (is_kv) that stays silent past kv.timeout_s times out, so the hop can fall back.
        """
        url = self.state.endpoints[inst].url
        where = f"instance {inst}"
        headers = {"X-Request-Id": str(body.get("rid", flight.request_id))}
        timeout = self.timeout
        if is_kv and self.kv is not None:
            timeout = aiohttp.ClientTimeout(total=self.timeout.total, sock_connect=self.timeout.sock_connect,
                                            sock_read=self.kv.timeout_s)
        try:
            async with self.session.post(url + path, json=body, headers=headers, timeout=timeout) as resp:
                flight.upstream = resp
                if resp.status >= 400:
                    result.kind = "rejected" if resp.status < 500 else "failed"
                    result.status = resp.status if resp.status < 500 else 502
                    result.message = (
                        f"{where} returned HTTP {resp.status}: {_error_message(await resp.text())}"
                    )
                    return
                buf = b""
                while True:
                    data = await resp.content.readany()
                    if not data:
                        break
                    *lines, buf = (buf + data).split(b"\n")
                    events, stop = self._consume(flight, lines, result, where)
                    for ids, text, finish in events:
                        yield self._on_tokens(flight, ids, text, finish)
                    if stop == "eof":
                        break
                    if stop is not None:
                        return
            self._classify_end(flight, result, where)
        except asyncio.TimeoutError:
            result.kind, result.status = "failed", 504
            result.message = f"{where} timed out"
        except (aiohttp.ClientError, ConnectionError, ValueError) as exc:
            if result.finish is not None:  # cut while draining after the last token
                self._classify_end(flight, result, where)
            elif flight.pending_move is not None:
                result.kind = "moved"
            else:
                result.message = f"{where} failed mid-stream ({type(exc).__name__})"
                log.warning("instance %d (%s) failed mid-stream: %r", inst, url, exc)
        finally:
            flight.upstream = None

    def _consume(
        self, flight: Flight, lines: list[bytes], result: HopResult, where: str
    ) -> tuple[list[HopEvent], str | None]:
        """Parse the SSE lines of one read: (events, stop) with stop in eof|error|cut|None.

        One event per backend chunk with choices; its finish is set only on the request's last one.
        """
        events: list[HopEvent] = []
        max_tokens = flight.parsed.max_tokens
        num_generated = len(flight.generated_ids)
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                return events, "eof"
            if result.finish is not None:
                continue  # drain to [DONE] so the connection is reused
            chunk = json.loads(payload)
            if "error" in chunk and not chunk.get("choices"):
                result.message = f"{where} streamed an error: {_error_message(json.dumps(chunk))}"
                return events, "error"
            if flight.prompt_ids is None:
                flight.prompt_ids = self.adapter.parse_prompt_ids(chunk)
            new, text, finish = self.adapter.parse_chunk(chunk)
            if not new and not text and finish is None:
                continue  # no token (chat role chunk, usage-only chunk): the router writes its own
            new = new[: max_tokens - num_generated]
            num_generated += len(new)
            if num_generated >= max_tokens or finish is not None:
                result.finish = finish or "length"
                is_last = result.finish == "stop" or num_generated >= max_tokens
                events.append((new, text, result.finish if is_last else None))
                continue
            events.append((new, text, None))
            if flight.pending_move is not None:
                result.kind = "moved"
                return events, "cut"
            if flight.hop_at_tokens is not None and flight.prompt_tokens + num_generated >= flight.hop_at_tokens:
                result.kind = "bound"
                return events, "cut"
        return events, None

    @staticmethod
    def _classify_end(flight: Flight, result: HopResult, where: str) -> None:
        """A stream that ended normally: done, at its bound, moved, or broken."""
        done = len(flight.generated_ids) >= flight.parsed.max_tokens
        if result.finish in ("stop", "length") and (done or result.finish == "stop"):
            result.kind = "done"
        elif result.finish == "length":
            result.kind = "bound"
        elif flight.pending_move is not None:
            result.kind = "moved"
        elif result.finish is None:
            result.message = f"{where} closed the stream before finishing"
        else:
            result.message = f"{where} ended the request with finish_reason={result.finish!r}"
