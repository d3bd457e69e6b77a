"""A live run's timeline: the router-side scheduler's snapshots and per-instance load, sampled
every few seconds while the load generator replays (the simulator records the same fields)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("l4bench.live")


async def record_timeline(router: Any, scheduler: Any, interval_s: float, out: list[dict[str, Any]]) -> None:
    """Until cancelled, every interval_s: the scheduler's snapshot (if it offers one) and per-instance
    load, with t_s = seconds since the first snapshot (the replay's start). A snapshot that fails
    is logged once and the run goes on without it."""
    snap = getattr(scheduler, "snapshot", None)
    t0 = time.monotonic()
    warned = False
    while True:
        now = time.monotonic()
        entry: dict[str, Any] = {"t_s": round(now - t0, 3)}
        try:
            if callable(snap):  # its own t_s (the router's clock) gives way to the replay's
                entry.update({k: v for k, v in snap(now).items() if k != "t_s"})
            views = router.state.views()
            entry["num_running"] = [v.num_running for v in views]
            entry["num_context_tokens"] = [v.num_context_tokens for v in views]
        except Exception as e:  # a timeline must never cost the run
            if not warned:
                log.warning("timeline snapshot failed (the run goes on without it): %s", e)
                warned = True
        out.append(entry)
        await asyncio.sleep(interval_s)
