"""Scheduler re-solves off the router's event loop.

A scheduler that splits its periodic re-plan into ``resolve_snapshot(now_s)`` (cheap: is one due,
and a copy of the state it needs), ``solve(snapshot)`` (the expensive part, pure) and
``install(plan)`` (adopt it) -- L4Scheduler does -- is driven here: the snapshot is taken on the
event loop, ``solve`` runs in a one-worker executor, and the plan is installed back on the event
loop. Only the loop thread ever touches the scheduler's live state, so a route() sees the old
plan or the new one, never half of each. While a solve runs no other is started.

The worker is a child process by default (solver_process.py). A worker thread shares the GIL with
the loop, and the loop, which gives the GIL up at every socket call, then waits for it again after
each one (the convoy effect): measured with 64 instances x 64 bins on a 2-core VM, the thread made
stalls worse than solving inline (p99.9 loop lag during solves 158 ms vs 96 ms inline). The thread
worker (executor="thread") remains for schedulers that cannot be pickled; while it solves, the GIL
switch interval is lowered to SOLVE_SWITCH_INTERVAL_S.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from l4bench.live.solver_process import init_child, load_plan, ready, solve_in_child

log = logging.getLogger(__name__)

#: GIL switch interval while a solve runs in the worker (the loop waits at most about this long).
SOLVE_SWITCH_INTERVAL_S = 0.0005


def defers_resolves(scheduler: Any) -> bool:
    """True if the scheduler offers resolve_snapshot / solve / install and an inline switch."""
    return hasattr(scheduler, "resolve_inline") and all(
        callable(getattr(scheduler, n, None)) for n in ("resolve_snapshot", "solve", "install")
    )


class OffLoopResolver:
    """Polls a scheduler for due re-solves and runs them in a worker (see the module docstring).

    Args:
        scheduler: an object for which defers_resolves() holds; its resolve_inline is set False.
        poll_interval_s: how often the loop asks whether a re-solve is due (the due check is cheap).
        executor: "process" (default; falls back to "thread" if the scheduler cannot be pickled) or "thread".
    """

    def __init__(self, scheduler: Any, poll_interval_s: float = 0.05, executor: str = "process") -> None:
        self.scheduler = scheduler
        self.poll_interval_s = poll_interval_s
        scheduler.resolve_inline = False
        self.executor = executor
        self._pool: Executor
        if executor == "process":
            try:
                state = pickle.dumps(scheduler, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # e.g. a perf model holding a lock or a handle
                log.warning("scheduler cannot be pickled (%s): re-solves run in a thread", exc)
                self.executor = "thread"
            else:
                ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
                self._pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=init_child,
                                                 initargs=(state, os.getpid()))
        if self.executor == "thread":
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="l4bench-solve")
        elif self.executor != "process":
            raise ValueError(f"executor: unknown '{executor}'; valid: process, thread")
        self.num_solves = 0
        self.num_failed = 0
        self.spans_s: list[tuple[float, float]] = []  # perf_counter (start, installed) of recent solves

    async def _solve(self, snap: Any) -> Any:
        """The plan for snap, computed in the worker."""
        loop = asyncio.get_running_loop()
        if self.executor == "process":
            return load_plan(await loop.run_in_executor(self._pool, solve_in_child, snap))
        switch_s = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_s, SOLVE_SWITCH_INTERVAL_S))
        try:
            return await loop.run_in_executor(self._pool, self.scheduler.solve, snap)
        finally:
            sys.setswitchinterval(switch_s)

    async def run(self) -> None:
        """Forever: when a re-solve is due, snapshot, solve in the worker, install."""
        if self.executor == "process":  # the pool spawns its child on first submit: do that off the loop
            await asyncio.to_thread(lambda: self._pool.submit(ready).result())
        while True:
            await asyncio.sleep(self.poll_interval_s)
            snap = self.scheduler.resolve_snapshot(time.monotonic())
            if snap is None:
                continue
            t0 = time.perf_counter()
            try:
                plan = await self._solve(snap)
            except Exception:  # keep serving on the current plan
                self.num_failed += 1
                log.exception("scheduler.solve failed")
                continue
            self.scheduler.install(plan)
            self.spans_s = [*self.spans_s[-1023:], (t0, time.perf_counter())]
            self.num_solves += 1

    def close(self) -> None:
        """Stop the worker (a solve in progress finishes in the background; its plan is dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
