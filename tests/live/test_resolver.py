"""OffLoopResolver: solves run in the worker thread, plans are installed on the event loop thread."""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
import threading
import time

import numpy as np
from l4.l4_helpers import LinearPerfModel, cluster, rng

from l4bench.l4 import L4Scheduler
from l4bench.live import solver_process
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


def test_thread_worker_solves_off_the_loop_installs_on_it_and_the_loop_keeps_ticking() -> None:
    sched = SlowScheduler()
    resolver = OffLoopResolver(sched, poll_interval_s=0.01, executor="thread")
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


def _fed_l4(t0_s: float = 0.0) -> L4Scheduler:
    s = L4Scheduler(cluster(4, 16384), LinearPerfModel(), rng(0), num_bins=8, min_bin_tokens=64,
                    min_history_requests=10, resolve_interval_s=0.05)
    g = np.random.default_rng(1)
    for i in range(200):
        s.hist.add_arrival(i, int(g.integers(64, 12000)), t0_s + i * 0.01)
        s.hist.add_finish(i, int(g.integers(10, 300)))
    return s


def test_plan_from_the_child_equals_the_inline_plan_and_leaves_no_files(monkeypatch) -> None:
    monkeypatch.setattr(solver_process, "MAP_MIN_BYTES", 0)  # map even this small plan's arrays
    s = _fed_l4()
    snap = s.resolve_snapshot(2.0)
    solver_process.init_child(pickle.dumps(s))
    before = set(os.listdir(solver_process.shm_dir()))
    got = solver_process.load_plan(solver_process.solve_in_child(snap))
    want = s.solve(snap)
    assert got.partition == want.partition and got.solved_at_s == want.solved_at_s
    for name in ("cost", "fallback", "step_s"):
        assert np.array_equal(getattr(got.table, name), getattr(want.table, name))
    assert isinstance(got.table.cost, np.memmap)  # mapped, not copied through the pipe
    assert set(os.listdir(solver_process.shm_dir())) - before == set()


def test_process_worker_solves_and_installs() -> None:
    s = _fed_l4(time.monotonic() - 2.0)
    resolver = OffLoopResolver(s, poll_interval_s=0.01)
    assert resolver.executor == "process"

    async def main() -> None:
        task = asyncio.create_task(resolver.run())
        for _ in range(600):  # the child starts in ~1 s; then solves every 50 ms
            await asyncio.sleep(0.02)
            if resolver.num_solves >= 2:
                break
        task.cancel()
        resolver.close()

    asyncio.run(main())
    assert resolver.num_solves >= 2 and resolver.num_failed == 0
    assert s.snapshot(3.0)["num_solves"] == resolver.num_solves
