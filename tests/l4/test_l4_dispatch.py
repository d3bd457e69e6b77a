"""Round-2 L4 behaviour (measured perf model): predicted-E2E dispatch with a prefill ledger, spill,
pooling when a split does not clearly win or nothing is feasible, model-gated refinement, and the
G/G/m variability factor of the stage cost."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from l4_helpers import LinearPerfModel, cluster, rng, view

from l4bench.l4 import L4Scheduler, Partition, fit_affine
from l4bench.l4.cost import CostParams, CostTable, Objective
from l4bench.l4.dispatch import DispatchLedger, predicted_e2e_s, prefill_compute_s
from l4bench.l4.histogram import LengthHistogram, bin_stats, make_bin_edges, sub_window_counts
from l4bench.l4.queueing import variability
from l4bench.types import Request

KW = {"num_bins": 8, "min_bin_tokens": 64}


def make(n: int = 4, **kw: object) -> L4Scheduler:
    s = L4Scheduler(cluster(n, max_model_len=16384), LinearPerfModel(), rng(0), **{**KW, **kw})  # type: ignore[arg-type]
    s.apply_partition(Partition((4, 8), (2, 2), 0.0))  # stage 0: bins 0-3 on {0, 1}; stage 1 on {2, 3}
    return s


def step() -> object:
    return fit_affine(LinearPerfModel(), 16384, 256, 8192, 400_000)


def test_prefill_compute_and_ledger_drain():
    st = step()
    assert prefill_compute_s(st, 0, 8192) == 0.0  # type: ignore[arg-type]
    small, big = (prefill_compute_s(st, t, 8192) for t in (1000, 16000))  # type: ignore[arg-type]
    assert 0 < small < big
    led = DispatchLedger()
    led.add(3, 2.0, 10.0)
    assert led.backlog(3, 10.5) == 1.5 and led.backlog(3, 13.0) == 0.0 and led.backlog(0, 10.0) == 0.0
    led.add(3, 1.0, 11.0)
    assert math.isclose(led.backlog(3, 11.0), 2.0)


def test_predicted_e2e_prefers_short_contexts_and_no_queue():
    st = step()
    light, heavy = view(0, (1000,) * 4), view(1, (12000,) * 4)
    args = (0.01, 1000, 200.0, 8192)
    assert predicted_e2e_s(st, light, 0.0, *args) < predicted_e2e_s(st, heavy, 0.0, *args)  # type: ignore[arg-type]
    assert predicted_e2e_s(st, light, 5.0, *args) > predicted_e2e_s(st, heavy, 0.0, *args)  # type: ignore[arg-type]


def test_route_avoids_instance_with_inflight_prefill():
    s = make()
    views = [view(i) for i in range(4)]
    first = s.route(Request(1, 0.0, 12000, 10), views, 0.0)  # a long prompt: its prefill is now in flight
    assert first.instance_id in (2, 3)
    # the views still look identical (the prompt was admitted, no waiting tokens), the ledger is not
    second = s.route(Request(2, 0.0, 12000, 10), views, 0.0)
    assert second.instance_id in (2, 3) and second.instance_id != first.instance_id


def test_spill_to_idle_neighbour_only_when_home_has_prefill_queued():
    s = make()
    views = [view(0), view(1), view(2), view(3)]
    for iid in (2, 3):
        s.ledger.add(iid, 10.0, 0.0)  # both long-stage instances are busy prefilling
    d = s.route(Request(9, 0.0, 12000, 10), views, 0.0)
    assert d.instance_id in (0, 1) and d.hop_at_tokens is None  # spilled; hop bound of its home stage
    off = make(spill=False)
    for iid in (2, 3):
        off.ledger.add(iid, 10.0, 0.0)
    assert off.route(Request(9, 0.0, 12000, 10), views, 0.0).instance_id in (2, 3)


def table(cost: np.ndarray) -> CostTable:
    return CostTable(
        cost=cost, fallback=np.where(np.isfinite(cost), cost, 1e12), step_s=np.full(cost.shape, 0.01)
    )


def test_pools_when_split_gain_is_small_or_nothing_is_feasible():
    s = make()
    K, N = 8, 4
    cost = np.full((K + 1, K + 1, N + 1), np.inf)
    cost[0, K, N] = 10.0
    cost[0, 4, 2], cost[4, K, 2] = 4.9, 4.9  # split 9.8: < 5% better than pooled 10
    part = s._choose_partition(table(cost))
    assert part is not None and part.stage_end_bins == (K,) and part.instances_per_stage == (N,)
    cost[0, 4, 2], cost[4, K, 2] = 3.0, 3.0  # a clear win: split kept
    part = s._choose_partition(table(cost))
    assert part is not None and part.num_stages == 2
    nothing = table(np.full((K + 1, K + 1, N + 1), np.inf))
    part = s._choose_partition(nothing)
    assert part is not None and part.num_stages == 1 and part.instances_per_stage == (N,)


def test_refinement_shift_undone_when_model_prices_it_worse():
    s = make(refine_min_interval_s=0.0, balance_threshold=100.0)
    K, N = 8, 4
    cost = np.ones((K + 1, K + 1, N + 1))
    cost[0, 3, 2] = 50.0  # moving boundary 4 -> 3 is priced much worse
    s._table = table(cost)
    assert s._plausible_shifts((3, 8)) == (4, 8)
    cost[0, 3, 2] = 1.0
    assert s._plausible_shifts((3, 8)) == (3, 8)


def params() -> CostParams:
    return CostParams(Objective.MEAN_E2E, 0.95, 400_000, 256, 8192, 1.0, True, 5.0, 0.1)


def test_variability_sees_length_mix_and_bursts():
    edges = make_bin_edges(8, 64, 131072)
    K = len(edges) - 1
    prompts = np.array([1000] * 95 + [64000] * 5, dtype=np.int64)
    outs = np.full(100, 10, dtype=np.int64)
    st = bin_stats(edges, prompts, outs, 100.0)
    var = variability(st, edges, step(), params())  # type: ignore[arg-type]
    short = int(np.searchsorted(edges, 1000, side="right"))
    assert var[0, short] < 0.6  # homogeneous short prompts, Poisson default: (1 + ~0) / 2
    assert var[0, K] > 3.0  # 1k and 64k prompts in one FCFS prefill queue
    times = np.concatenate([np.zeros(50), np.full(50, 55.0)])  # two bursts in 60 s
    counts = sub_window_counts(edges, prompts, times, 0.0, 10.0, 6)
    assert counts.shape == (K, 6) and counts.sum() == 100
    bursty = variability(
        type(st)(**{**st.__dict__, "sub_counts": counts}),
        edges,
        step(),
        params(),  # type: ignore[arg-type]
    )
    assert bursty[0, short] > 10 * var[0, short]


def test_histogram_sub_window_counts_cover_whole_sub_windows():
    edges = make_bin_edges(8, 64, 16384)
    h = LengthHistogram(edges, 120.0, 100, sub_window_s=10.0)
    for k in range(60):
        h.add_arrival(k, 500, float(k))
    st = h.stats(60.0)
    assert st.sub_counts is not None and st.sub_counts.shape[1] == 6 and st.sub_counts.sum() == 60
    assert LengthHistogram(edges, 120.0, 100).stats(60.0).sub_counts is None


def test_kv_headroom_makes_long_context_stages_infeasible_earlier():
    from l4bench.l4.cost import stage_cost_table

    edges = make_bin_edges(8, 64, 131072)
    K = len(edges) - 1
    st = bin_stats(edges, np.full(10, 100_000, dtype=np.int64), np.full(10, 400, dtype=np.int64), 60.0)
    roomy = stage_cost_table(st, edges, 2, step(), dataclasses.replace(params(), kv_capacity_tokens=10**12))  # type: ignore[arg-type]
    kv = st.dec_ctx_sum.sum() * roomy.step_s[0, K, 1]  # mean resident KV on one instance: ~200k
    assert 150_000 < kv < 300_000 < kv + np.sqrt(kv * st.dec_ctx_max.max())
    tight = stage_cost_table(st, edges, 2, step(), dataclasses.replace(params(), kv_capacity_tokens=300_000))  # type: ignore[arg-type]
    assert not np.isfinite(tight.cost[0, K, 1])  # the mean fits, the mean + one std does not
    assert np.isfinite(tight.cost[0, K, 2])
