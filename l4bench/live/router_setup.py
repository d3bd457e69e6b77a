"""Putting the router in front of running engines: what the workers say about themselves, and one
construction path (open_router) taken by both `l4bench-router` and the harness's live runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass

import aiohttp

from l4bench.engines.base import EngineAdapter
from l4bench.errors import ConfigError
from l4bench.live.endpoint import Endpoint
from l4bench.live.router import RouterConfig, RouterServer
from l4bench.sched.base import GlobalScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerFacts:
    """What the workers report: the served model (GET /v1/models) and their KV cache size (/metrics)."""

    model_id: str
    max_model_len: int | None
    root: str | None  # the path or HF id the engine loaded
    kv_capacity_tokens: int | None  # smallest over the workers; None when an engine does not say


async def _get_json(session: aiohttp.ClientSession, url: str, timeout_s: float) -> dict:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
        resp.raise_for_status()
        doc = await resp.json(content_type=None)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


async def wait_ready(
    session: aiohttp.ClientSession, urls: list[str], adapter: EngineAdapter, timeout_s: float
) -> None:
    """Wait until every worker answers its health route; ConfigError naming the first that does not."""
    deadline = time.monotonic() + timeout_s
    for url in urls:
        while True:
            try:
                async with session.get(url + adapter.health_path, timeout=aiohttp.ClientTimeout(total=5)) as r:
                    if r.status == 200:
                        break
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                pass
            if time.monotonic() >= deadline:
                raise ConfigError(f"--worker-urls: {url} did not answer {adapter.health_path} within {timeout_s:g} s")
            await asyncio.sleep(0.5)


async def discover(session: aiohttp.ClientSession, urls: list[str], adapter: EngineAdapter) -> WorkerFacts:
    """Model id / max_model_len from every worker's /v1/models (all must agree) and the KV capacity."""
    cards = []
    for url in urls:
        try:
            doc = await _get_json(session, url + "/v1/models", 10.0)
            cards.append((doc.get("data") or [{}])[0])
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            raise ConfigError(f"--worker-urls: {url}/v1/models failed ({type(exc).__name__}); is it an OpenAI server?") from None
    ids = sorted({str(c.get("id")) for c in cards})
    if len(ids) != 1 or ids[0] == "None":
        raise ConfigError(f"--worker-urls: the workers serve different or unnamed models ({', '.join(ids)}); give one model's workers")
    lens = [int(c["max_model_len"]) for c in cards if isinstance(c.get("max_model_len"), int)]
    kvs = await engine_kv_capacity(session, urls, adapter)
    root = cards[0].get("root")
    return WorkerFacts(ids[0], min(lens) if lens else None, str(root) if root else None, kvs)


async def engine_kv_capacity(
    session: aiohttp.ClientSession, urls: list[str], adapter: EngineAdapter
) -> int | None:
    """The smallest KV cache (tokens) the engines report, or None when any of them does not say."""
    values = []
    for url in urls:
        try:
            value = await adapter.fetch_kv_capacity_tokens(session, url)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
            value = None
        if value is None:
            return None
        values.append(value)
    return min(values) if values else None


async def open_router(
    endpoints: list[Endpoint],
    scheduler: GlobalScheduler,
    adapter: EngineAdapter,
    config: RouterConfig,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RouterServer:
    """Build and start the router in front of endpoints (KV capacity read from the engines when unset).

    The one construction path: `l4bench-router` and the harness's live runs (LiveRunner) both call it.
    """
    if config.kv_capacity_tokens is None:
        async with aiohttp.ClientSession() as session:
            kv = await engine_kv_capacity(session, [e.url for e in endpoints], adapter)
        if kv is not None:
            config = dataclasses.replace(config, kv_capacity_tokens=kv)
    router = RouterServer(endpoints, scheduler, adapter, config)
    await router.start(host, port)
    log.info("router on %s: %d instances, kv_capacity_tokens=%s", router.url, len(endpoints), router.state.kv_capacity_tokens)
    return router
