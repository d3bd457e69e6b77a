"""Re-solve split into snapshot / solve / install (the live router solves off its event loop).

Deferred (snapshot now, solve, install later) must equal inline re-solving when nothing happens in
between; solve must not touch the scheduler; the ring-buffer histogram must equal a plain list
reference through pruning and growth.
"""

from __future__ import annotations

import copy

import numpy as np
from l4_helpers import LinearPerfModel, cluster, rng
from test_l4_scheduler import KW, feed, make

from l4bench.l4 import L4Scheduler
from l4bench.l4.histogram import LengthHistogram, bin_stats, make_bin_edges


def test_deferred_resolves_give_the_inline_decisions_and_layouts() -> None:
    inline = make(min_history_requests=30, resolve_interval_s=3.0)
    deferred = make(min_history_requests=30, resolve_interval_s=3.0)
    deferred.resolve_inline = False

    class Driver:  # runs snapshot -> solve -> install just before every call that would re-solve
        def __init__(self, s: L4Scheduler) -> None:
            self.s = s

        def __getattr__(self, name: str):
            fn = getattr(self.s, name)
            if name not in ("route", "on_bound", "rebalance"):  # the calls that re-solve inline
                return fn

            def call(*args, **kwargs):
                now_s = args[-1]
                snap = self.s.resolve_snapshot(now_s)
                if snap is not None:
                    self.s.install(self.s.solve(snap))
                return fn(*args, **kwargs)

            return call

    a = feed(inline)
    b = feed(Driver(deferred))  # type: ignore[arg-type]
    assert a == b
    assert inline.snapshot(30.0) == deferred.snapshot(30.0)
    assert deferred.snapshot(30.0)["num_solves"] >= 2


def test_solve_is_pure_and_a_snapshot_is_a_copy() -> None:
    s = make(min_history_requests=10, resolve_interval_s=1.0)
    s.resolve_inline = False
    feed(s, n=60)
    snap = s.resolve_snapshot(1e3)
    assert snap is not None and s.resolve_snapshot(1e3) is None  # the tick moved on
    before = copy.deepcopy((s.layout, s._num_solves, s._table is None, len(s.hist)))
    plan1 = s.solve(snap)
    s.hist.add_arrival(10_000, 5000, 1e3)  # the loop keeps mutating the histogram meanwhile
    s.hist.add_finish(10_000, 7)
    plan2 = s.solve(snap)
    assert np.array_equal(plan1.table.cost, plan2.table.cost) and plan1.partition == plan2.partition
    assert (s.layout, s._num_solves, s._table is None) == before[:3]
    s.install(plan1)
    assert s._num_solves == before[1] + 1 and s._table is plan1.table


def test_no_resolve_runs_inline_when_deferred() -> None:
    s = L4Scheduler(cluster(4, 16384), LinearPerfModel(), rng(0), **KW, min_history_requests=5,
                    resolve_interval_s=0.1)
    s.resolve_inline = False
    feed(s, n=100)
    assert s.snapshot(100.0)["num_solves"] == 0


class ListHistogram:
    """The histogram as it was: a list of (arrival, id, prompt) and a dict of finished outputs."""

    def __init__(self, window_s: float) -> None:
        self.window_s, self.arr, self.out = window_s, [], {}

    def add(self, rid: int, p: int, t: float) -> None:
        self.arr.append((t, rid, p))

    def finish(self, rid: int, n: int) -> None:
        if any(a[1] == rid for a in self.arr):
            self.out[rid] = n

    def arrays(self, now_s: float, est: int) -> tuple[np.ndarray, np.ndarray]:
        self.arr = [a for a in self.arr if a[0] >= now_s - self.window_s]
        live = {a[1] for a in self.arr}
        self.out = {k: v for k, v in self.out.items() if k in live}
        return (np.array([a[2] for a in self.arr], dtype=np.int64),
                np.array([self.out.get(a[1], est) for a in self.arr], dtype=np.int64))


def test_ring_histogram_equals_the_list_reference_through_prune_and_growth() -> None:
    edges = make_bin_edges(16, 16, 8192)
    h, ref = LengthHistogram(edges, 5.0, 100), ListHistogram(5.0)
    g = np.random.default_rng(3)
    t, rid = 0.0, 0
    for step in range(6000):  # ~2,500 in the window at peak: the 1,024-slot ring grows and compacts
        t += float(g.exponential(0.002 if step < 3000 else 0.02))
        p = int(g.integers(1, 8000))
        h.add_arrival(rid, p, t)
        ref.add(rid, p, t)
        if rid >= 5 and g.random() < 0.8:
            done = rid - int(g.integers(1, 5))
            n = int(g.integers(1, 500))
            h.add_finish(done, n)
            ref.finish(done, n)
        rid += 1
        if step % 500 == 0 or step == 5999:
            w = h.sample(t)
            p_ref, o_ref = ref.arrays(t, int(round(h.expected_output_tokens())))
            assert np.array_equal(w.prompts, p_ref) and np.array_equal(w.outputs, o_ref), step
            assert len(h) == len(p_ref)
            a, b = h.stats_of(w), bin_stats(edges, p_ref, o_ref, max(w.now_s - w.start_s, 1e-3))
            assert np.array_equal(a.dec_steps, b.dec_steps) and np.array_equal(a.prompt_rate, b.prompt_rate)
