"""OffLoopResolver: solves run in the worker thread, plans are installed on the event loop thread."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

from l4.l4_helpers import LinearPerfModel, cluster, rng

from l4bench.l4 import L4Scheduler
from l4bench.live.resolver import OffLoopResolver, defers_resolves
from l4bench.sched.round_robin import RoundRobinScheduler


class SlowScheduler:
    """Due every call; solve() burns 80 ms of pure-Python CPU (holds the GIL as a DP loop would)."""

    resolve_inline = True

    def __init__(self) -> None:
        self.solve_threads: list[str] = []
        self.install_threads: list[str] = []

    def resolve_snapshot(self, now_s: float) -> float:
        return now_s

    def solve(self, snapshot: float) -> float:
        self.solve_threads.append(threading.current_thread().name)
        end = time.perf_counter() + 0.08
        x = 0
        while time.perf_counter() < end:
            x += 1
        return snapshot

    def install(self, plan: float) -> bool:
        self.install_threads.append(threading.current_thread().name)
        return True


def test_only_schedulers_with_the_split_are_deferred() -> None:
    assert defers_resolves(L4Scheduler(cluster(4, 16384), LinearPerfModel(), rng(0)))
    assert not defers_resolves(RoundRobinScheduler(cluster(4)))


def test_solves_off_the_loop_installs_on_it_and_the_loop_keeps_ticking() -> None:
    sched = SlowScheduler()
    resolver = OffLoopResolver(sched, poll_interval_s=0.01)
    assert sched.resolve_inline is False
    gaps: list[float] = []

    async def main() -> None:
        task = asyncio.create_task(resolver.run())
        last = time.perf_counter()
        for _ in range(100):  # ~0.5 s of 5 ms ticks while solves of 80 ms run back to back
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        task.cancel()
        resolver.close()

    before_s = sys.getswitchinterval()
    asyncio.run(main())
    assert sys.getswitchinterval() == before_s  # lowered only while a solve ran
    assert resolver.num_solves >= 3
    assert set(sched.solve_threads) and all(n.startswith("l4bench-solve") for n in sched.solve_threads)
    assert set(sched.install_threads) == {"MainThread"}
    # an 80 ms solve on the loop would show as an 80 ms gap; the lowered GIL switch interval bounds it
    assert max(gaps) < 0.06, max(gaps)
