"""Scheduler re-solves off the router's event loop.

A scheduler that splits its periodic re-plan into ``resolve_snapshot(now_s)`` (cheap: is one due,
and a copy of the state it needs), ``solve(snapshot)`` (the expensive part, pure) and
``install(plan)`` (adopt it) -- L4Scheduler does -- is driven here: the snapshot is taken on the
event loop, ``solve`` runs in a one-thread executor, and the plan is installed back on the event
loop. Only the loop thread ever touches the scheduler's live state, so a route() sees the old
plan or the new one, never half of each. While a solve runs no other is started.

The worker shares the GIL with the event loop. numpy releases it inside large array operations,
but between them the worker holds it until the interpreter's switch interval (5 ms by default)
passes, which would delay the loop by that much. While a solve runs the interval is therefore
lowered to SOLVE_SWITCH_INTERVAL_S and restored afterwards. The worker thread also runs at the
lowest CPU priority (nice 19, Linux), so that when it and the loop want the same core, the loop
gets it: a plan may arrive later, but the streams do not wait.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

#: GIL switch interval while a solve runs in the worker (the loop waits at most about this long).
SOLVE_SWITCH_INTERVAL_S = 0.0005


def _lower_priority() -> None:
    """Runs in the worker thread: nice 19 for this thread only (Linux; elsewhere a no-op)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


def defers_resolves(scheduler: Any) -> bool:
    """True if the scheduler offers resolve_snapshot / solve / install and an inline switch."""
    return hasattr(scheduler, "resolve_inline") and all(
        callable(getattr(scheduler, n, None)) for n in ("resolve_snapshot", "solve", "install")
    )


class OffLoopResolver:
    """Polls a scheduler for due re-solves and runs them in a worker thread (see the module docstring).

    Args:
        scheduler: an object for which defers_resolves() holds; its resolve_inline is set False.
        poll_interval_s: how often the loop asks whether a re-solve is due (the due check is cheap).
    """

    def __init__(self, scheduler: Any, poll_interval_s: float = 0.05) -> None:
        self.scheduler = scheduler
        self.poll_interval_s = poll_interval_s
        scheduler.resolve_inline = False
        self._pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="l4bench-solve", initializer=_lower_priority
        )
        self.num_solves = 0
        self.num_failed = 0
        self.solve_s: list[float] = []  # wall time of each solve in the worker (recent ones)

    async def run(self) -> None:
        """Forever: when a re-solve is due, snapshot, solve in the worker, install."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_interval_s)
            snap = self.scheduler.resolve_snapshot(time.monotonic())
            if snap is None:
                continue
            t0 = time.perf_counter()
            switch_s = sys.getswitchinterval()
            sys.setswitchinterval(min(switch_s, SOLVE_SWITCH_INTERVAL_S))
            try:
                plan = await loop.run_in_executor(self._pool, self.scheduler.solve, snap)
            except Exception:  # keep serving on the current plan
                self.num_failed += 1
                log.exception("scheduler.solve failed")
                continue
            finally:
                sys.setswitchinterval(switch_s)
            self.solve_s = [*self.solve_s[-255:], time.perf_counter() - t0]
            self.scheduler.install(plan)
            self.num_solves += 1

    def close(self) -> None:
        """Stop the worker (a solve in progress finishes in the background; its plan is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
