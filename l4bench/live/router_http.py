"""HTTP plumbing of the router that is not about completions: JSON errors everywhere, forwarded routes.

Every error a client can get, including unknown routes (404), wrong methods (405) and a handler that
breaks (500), is an OpenAI-shaped JSON object ({"error": {"message", "type", "param", "code"}}),
never aiohttp's plain-text page or a traceback, and never names a backend's address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from l4bench.live.router_api import error_body

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_KINDS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    404: "NotFoundError",
    405: "MethodNotAllowed",
    413: "BadRequestError",
    429: "RateLimitError",
    503: "ServiceUnavailableError",
}


def json_error(status: int, message: str, param: str | None = None) -> web.Response:
    """An OpenAI-shaped JSON error response."""
    kind = _KINDS.get(status, "BadRequestError" if status < 500 else "InternalServerError")
    return web.json_response(error_body(status, message, kind, param), status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's HTTP exceptions and unexpected failures into JSON errors."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return json_error(404, f"Route {request.method} {request.path[:200]} not found.")
        if exc.status == 405:
            allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ()) or ()))
            return json_error(405, f"Method {request.method} not allowed on {request.path[:200]}; allowed: {allowed}.")
        return json_error(exc.status, exc.reason or "request refused")
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("router handler failed: %s %s", request.method, request.path)
        return json_error(500, "Internal router error (see the router's log).")


async def forward_json(
    session: aiohttp.ClientSession, url: str, path: str, raw: bytes, timeout_s: float
) -> web.Response:
    """POST a client's JSON body to one backend and return its answer (status and JSON) unchanged.

    Transport failures become a 502 without the backend's address.
    """
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with session.post(
            url + path, data=raw, headers={"Content-Type": "application/json"}, timeout=timeout
        ) as resp:
            body = await resp.read()
            ctype = resp.headers.get("Content-Type", "application/json").split(";")[0]
            if ctype != "application/json":
                return json_error(resp.status if resp.status >= 400 else 502, f"backend answered {path} with {ctype}")
            return web.Response(body=body, status=resp.status, content_type="application/json")
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        log.warning("forwarding %s to %s failed: %r", path, url, exc)
        return json_error(502, f"{path}: the backend did not answer ({type(exc).__name__}).")
