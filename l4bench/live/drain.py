"""Between schedulers: wait until every instance is idle, then empty its prefix cache.

No scheduler may inherit another's queue or cached prefixes. vLLM resets its prefix cache on
POST /reset_prefix_cache (only with VLLM_SERVER_DEV_MODE=1, set in conf/engine/vllm.yaml);
SGLang on POST /flush_cache.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from l4bench.engines.base import EngineAdapter
from l4bench.live.endpoint import Endpoint


async def reset_prefix_cache(session: aiohttp.ClientSession, url: str) -> bool:
    """Ask the engine at url to drop its prefix cache; True if one of the known calls succeeded."""
    for path in ("/reset_prefix_cache", "/flush_cache"):
        try:
            async with session.post(url + path, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                if resp.status == 200:
                    return True
        except (aiohttp.ClientError, asyncio.TimeoutError):
            continue
    return False


async def drain_and_reset(
    adapter: EngineAdapter, endpoints: list[Endpoint], idle_timeout_s: float
) -> dict[str, Any]:
    """Wait (up to idle_timeout_s in all) until no instance runs or queues anything; reset caches."""
    deadline = time.monotonic() + idle_timeout_s
    reset_ok = True
    async with aiohttp.ClientSession() as session:
        for ep in endpoints:
            while True:
                try:
                    load = await adapter.fetch_load(session, ep.url)
                    if load.num_running == 0 and load.num_waiting == 0:
                        break
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ep.url} not idle after {idle_timeout_s:.0f} s")
                await asyncio.sleep(0.5)
            reset_ok &= await reset_prefix_cache(session, ep.url)
    return {"prefix_cache_reset": reset_ok}
