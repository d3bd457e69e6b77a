"""Serving one client request as a chain of hops (engine-agnostic migration by recompute).

A hop is one backend request whose max_tokens is capped at the scheduler's bound. When it ends at
the bound (or a rebalance cuts it, or its instance fails) the next hop goes to the instance the
scheduler picks, with prompt + generated token ids as its prompt. The client sees one stream.
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
from l4bench.live.router_state import Flight, RouterState
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
    ) -> None:
        self.state = state
        self.scheduler = scheduler
        self.adapter = adapter
        self.session = session
        self.timeout = aiohttp.ClientTimeout(
            total=backend_timeout_s, sock_connect=min(10.0, backend_timeout_s)
        )
        self.max_hop_retries = max_hop_retries

    def _pick(self, decision: Decision) -> int | None:
        """The decided instance if healthy and known, else the least loaded healthy one."""
        inst = decision.instance_id
        if inst in self.state.endpoints and self.state.is_healthy(inst):
            return inst
        return self.state.least_loaded_healthy()

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
        return self.adapter.completion_body(ids, cap, True, extra), self.adapter.completions_path

    def _start_segment(self, flight: Flight, inst: int, decision: Decision) -> int:
        """Bookkeeping for a new backend request; returns its capped max_tokens."""
        hop_prompt = flight.context_tokens
        if flight.num_segments > 0:
            flight.recomputed_tokens += hop_prompt
            self.state.counters.recomputed_tokens += hop_prompt
        if not flight.instances or flight.instances[-1] != inst:
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
        while True:
            inst = self._pick(decision)
            if inst is None:
                flight.error, flight.error_status = "no healthy instance to continue on", 503
                return
            if flight.num_segments > 0 and flight.prompt_ids is None:
                flight.error = "cannot continue on another instance: the prompt's token ids are unknown (set a tokenizer)"
                return
            cap = self._start_segment(flight, inst, decision)
            body, path = self._body(flight, cap)
            flight.num_segments += 1
            result = HopResult()
            async for item in self._hop(flight, inst, body, path, result):
                yield item
            flight.hop_end_s = time.monotonic() if flight.hop_end_s is None else flight.hop_end_s
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

    def _on_tokens(self, flight: Flight, ids: list[int], text: str, finish: str | None) -> HopEvent:
        remaining = flight.parsed.max_tokens - len(flight.generated_ids)
        ids = ids[:remaining]
        if not flight.is_running:
            flight.is_running = True
            if flight.hop_end_s is not None:
                flight.stall_s += time.monotonic() - flight.hop_end_s
                flight.hop_end_s = None
        flight.generated_ids.extend(ids)
        flight.text_parts.append(text)
        self.state.counters.generated_tokens += len(ids)
        self.state.counters.token_events += 1
        return ids, text, finish

    async def _hop(
        self, flight: Flight, inst: int, body: dict[str, Any], path: str, result: HopResult
    ) -> AsyncIterator[HopEvent]:
        """Stream one backend request, one event per engine event; result says how it ended.

        Client-facing messages name the instance by id only; its address goes to the log.
        """
        url = self.state.endpoints[inst].url
        where = f"instance {inst}"
        headers = {"X-Request-Id": str(body.get("rid", flight.request_id))}
        try:
            async with self.session.post(
                url + path, json=body, headers=headers, timeout=self.timeout
            ) as resp:
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
