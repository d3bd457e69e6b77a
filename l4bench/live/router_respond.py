"""How the router answers a completion: one JSON body, or an SSE stream shaped like vLLM's.

Streams carry one event per engine event (never several merged), finish_reason on the last token
chunk, a role chunk first for chat, and with stream_options.include_usage a trailing usage chunk with
`choices: []`. The request's `l4bench` summary rides on the last chunk before `data: [DONE]`.
"""

from __future__ import annotations

import contextlib
import json
import time

from aiohttp import web

from l4bench.live.hops import HopDriver
from l4bench.live.router_api import ChunkFormat, error_body, sse, whole_response
from l4bench.live.router_state import Flight
from l4bench.types import Decision


def response_id(flight: Flight) -> str:
    """The OpenAI id of a response: chatcmpl-<request id> / cmpl-<request id>, as vLLM names them."""
    return ("chatcmpl-" if flight.parsed.is_chat else "cmpl-") + flight.request_id


def error_response(flight: Flight) -> web.Response:
    """The JSON error answer of a flight that failed before streaming anything."""
    status = flight.error_status if flight.error_status >= 400 else 502
    body = error_body(
        status, flight.error or "error", "BackendError" if status >= 500 else "BadRequestError"
    )
    body["l4bench"] = flight.summary()
    return web.json_response(body, status=status, headers={"X-Request-Id": flight.request_id})


async def respond_whole(driver: HopDriver, model: str, flight: Flight, decision: Decision) -> web.Response:
    """Serve a non-streaming request: run its hops, answer one JSON body."""
    async with contextlib.aclosing(driver.run(flight, decision)) as hops:
        async for _ in hops:
            pass
    if flight.error is not None:
        return error_response(flight)
    text = "".join(flight.text_parts)
    body = whole_response(
        response_id(flight), int(time.time()), model, flight.parsed,
        flight.generated_ids, text, flight.finish_reason, flight.prompt_tokens,
    )  # fmt: skip
    body["l4bench"] = flight.summary()
    return web.json_response(body, headers={"X-Request-Id": flight.request_id})


async def respond_stream(
    driver: HopDriver, model: str, request: web.Request, flight: Flight, decision: Decision
) -> web.StreamResponse:
    """One SSE event per engine event, shaped like vLLM's (role chunk, finish on the last, usage)."""
    fmt = ChunkFormat(response_id(flight), int(time.time()), model, flight.parsed.is_chat)
    resp, sent_final, usage = None, False, flight.parsed.include_usage
    async with contextlib.aclosing(driver.run(flight, decision)) as hops:
        async for ids, text, finish in hops:
            if resp is None:
                resp = await _prepare(request, flight)
                if fmt.is_chat:
                    await resp.write(fmt.role())
            sent_final = finish is not None
            extra = {"l4bench": flight.summary()} if sent_final and not usage else None
            await resp.write(fmt.tokens(ids, text, finish, extra))
    if resp is None:
        if flight.error is not None:
            return error_response(flight)
        resp = await _prepare(request, flight)
        if fmt.is_chat:
            await resp.write(fmt.role())
    tail = b""
    if flight.error is not None or not sent_final:
        finish = flight.finish_reason if flight.error is None else "error"
        final = {**json.loads(fmt.tokens([], "", finish)[6:]), "l4bench": flight.summary()}
        if flight.error is not None:
            final["error"] = error_body(flight.error_status, flight.error, "BackendError")["error"]
        tail += sse(final)
    if usage:
        n = len(flight.generated_ids)
        tail += fmt.usage(flight.prompt_tokens, n, {"l4bench": flight.summary()})
    await resp.write_eof(tail + b"data: [DONE]\n\n")
    return resp


async def _prepare(request: web.Request, flight: Flight) -> web.StreamResponse:
    headers = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Request-Id": flight.request_id,
    }
    resp = web.StreamResponse(headers=headers)
    await resp.prepare(request)
    return resp
