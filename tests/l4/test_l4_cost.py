"""Histogram rates, the affine perf surrogate and the stage cost table."""

from __future__ import annotations

import numpy as np
import pytest
from l4_helpers import KV_CAPACITY, LinearPerfModel

from l4bench.l4 import (
    CostParams,
    LengthHistogram,
    Objective,
    bin_of,
    bin_stats,
    fit_affine,
    make_bin_edges,
    partition,
    stage_cost_table,
)
from l4bench.perf.base import BatchShape


def params(objective: Objective = Objective.MEAN_E2E, migrating: bool = True) -> CostParams:
    return CostParams(objective, 0.95, KV_CAPACITY, 256, 8192, 1.0, migrating, 5.0, 0.1)


def test_bin_edges_increase_and_cover():
    e = make_bin_edges(16, 64, 32768)
    assert e[0] == 0 and e[-1] == 32768 and len(e) == 17 and (np.diff(e) > 0).all()
    assert bin_of(e, 0) == 0 and bin_of(e, 63) == 0 and bin_of(e, 64) == 1 and bin_of(e, 10**9) == 15
    tiny = make_bin_edges(8, 1, 4)  # rounding duplicates are pushed apart
    assert (np.diff(tiny) > 0).all()


def test_bin_stats_conserve_work():
    e = make_bin_edges(8, 16, 4096)
    prompts = np.array([10, 100, 1000, 3000])
    outputs = np.array([5, 200, 50, 2000])  # the last one runs past max_model_len: clipped into the last bin
    st = bin_stats(e, prompts, outputs, window_s=2.0)
    assert st.dec_steps.sum() == pytest.approx(outputs.sum() / 2.0)
    assert st.pdec_steps.sum() == pytest.approx(outputs.sum() / 2.0)
    assert st.prompt_rate.sum() == pytest.approx(2.0) and st.prefill_tokens.sum() == pytest.approx(
        prompts.sum() / 2
    )
    exact_sum = sum(sum(range(p, p + o)) for p, o in zip(prompts, outputs, strict=True))
    assert st.dec_ctx_sum.sum() == pytest.approx(exact_sum / 2.0)
    k = bin_of(e, 256)  # request 100 + 200 crosses edges between bin(100) and bin(299)
    crossing = [i for i in range(1, 8) if 100 < e[i] < 300]
    assert all(st.cross_rate[i] >= 0.5 for i in crossing) and k >= 1


def test_histogram_window_and_output_estimate():
    h = LengthHistogram(make_bin_edges(8, 16, 4096), window_s=10.0, prior_output_tokens=100)
    assert h.expected_output_tokens() == 100
    for r in range(5):
        h.add_arrival(r, 50, now_s=float(r))
    h.add_finish(0, 20)
    h.add_finish(1, 40)
    assert h.expected_output_tokens() == 30
    h.prune(now_s=13.5)  # arrivals at 0..3 fall out
    assert len(h) == 1
    st = h.stats(now_s=13.5)
    assert st.num_requests == 1 and st.dec_steps.sum() * st.window_s == pytest.approx(30)


def test_affine_fit_recovers_linear_model():
    perf = LinearPerfModel()
    step = fit_affine(perf, 32768, 256, 8192, KV_CAPACITY)
    assert step.max_rel_error < 1e-6
    assert step.base_s == pytest.approx(0.01) and step.per_spread_token_s == pytest.approx(5e-8, rel=1e-4)


class UnsplitLongestPerfModel(LinearPerfModel):
    """LinearPerfModel plus a per-step cost of the longest context for batches of > 16 decodes or
    with a prefill chunk: the shape of vLLM's Triton unified attention (its 2-D, unsplit path)."""

    def __init__(self, per_max_s: float = 1e-6, min_seqs: int = 16) -> None:
        super().__init__(d=0.0)
        self.per_max_s, self.min_seqs = per_max_s, min_seqs

    def step_time_s(self, batch: BatchShape) -> float:
        unsplit = batch.num_decodes > self.min_seqs or batch.num_prefill_tokens > 0
        return super().step_time_s(batch) + (self.per_max_s * batch.decode_context_max if unsplit else 0.0)


def test_affine_fit_finds_the_longest_context_term_and_its_batch_threshold():
    step = fit_affine(UnsplitLongestPerfModel(), 32768, 256, 8192, KV_CAPACITY)
    assert step.max_context_min_seqs == 16 and step.per_max_context_s == pytest.approx(1e-6, rel=1e-3)
    assert step.max_rel_error < 1e-3
    # one 32k context among 63 at 1k costs ~33 ms more than the same batch at 1k (the fit reproduces it)
    mixed = step.step_s(64, 64, 32768 + 63 * 1024, 64, 32768)
    short = step.step_s(64, 64, 64 * 1024, 64, 1024)
    assert mixed - short == pytest.approx(1e-6 * (32768 - 1024) + 5e-8 * (32768 - 1024), rel=1e-3)
    assert fit_affine(LinearPerfModel(), 32768, 256, 8192, KV_CAPACITY).per_max_context_s == pytest.approx(0, abs=1e-12)


def test_longest_context_term_makes_the_dp_separate_lengths():
    e = make_bin_edges(8, 64, 32768)
    rng = np.random.default_rng(0)
    prompts = np.concatenate([rng.integers(64, 512, 400), rng.integers(8000, 30000, 20)])
    outputs = rng.integers(50, 300, len(prompts))
    st = bin_stats(e, prompts, outputs, window_s=len(prompts) / 20.0)
    gain = {}  # cost of one pooled stage of all four instances over the best partition's
    for name, perf in (("additive", LinearPerfModel(d=0.0)), ("unsplit", UnsplitLongestPerfModel(per_max_s=3e-6))):
        step = fit_affine(perf, 32768, 256, 8192, KV_CAPACITY)
        table = stage_cost_table(st, e, 4, step, params(Objective.MEAN_E2E, True))
        best = partition(table.cost)
        assert best.num_stages >= 2
        gain[name] = table.cost[0, len(e) - 1, 4] / best.total_cost
    assert gain["unsplit"] > 1.5 * gain["additive"]  # the per-step longest-context cost is what splitting saves


def _table(objective=Objective.MEAN_E2E, rate=20.0, n=4, migrating=True):
    e = make_bin_edges(8, 64, 32768)
    rng = np.random.default_rng(0)
    prompts = np.concatenate([rng.integers(64, 512, 400), rng.integers(8000, 30000, 20)])
    outputs = rng.integers(50, 300, len(prompts))
    st = bin_stats(e, prompts, outputs, window_s=len(prompts) / rate)
    step = fit_affine(LinearPerfModel(), 32768, 256, 8192, KV_CAPACITY)
    return e, stage_cost_table(st, e, n, step, params(objective, migrating))


def test_cost_table_shape_and_monotone_in_instances():
    e, t = _table()
    K = len(e) - 1
    assert t.cost.shape == (K + 1, K + 1, 5)
    full = t.cost[0, K, 1:]
    finite = full[np.isfinite(full)]
    assert len(finite) >= 2 and (np.diff(finite) <= 1e-12).all()  # more instances never hurt here
    assert np.isinf(t.cost[3, 2]).all() and np.isinf(t.cost[:, :, 0]).all()
    assert np.isfinite(t.fallback[0, K, 1:]).all()


def test_overload_is_infeasible_but_fallback_finite():
    e, t = _table(rate=5000.0, n=2)
    K = len(e) - 1
    assert np.isinf(t.cost[0, K, 1])
    with pytest.raises(ValueError):
        partition(t.cost)
    part = partition(t.fallback)
    assert sum(part.instances_per_stage) == 2


def test_objectives_order_and_split_pays_for_mixed_lengths():
    _, mean = _table(Objective.MEAN_E2E)
    _, tail = _table(Objective.P99)
    ok = np.isfinite(mean.cost)
    assert (tail.cost[ok] >= mean.cost[ok] - 1e-12).all()
    _, good = _table(Objective.GOODPUT)
    assert np.isfinite(good.cost).sum() == ok.sum()
    part = partition(mean.cost)
    assert part.num_stages >= 2  # short and long requests are worth separating (spread term)


def test_no_migration_charges_decode_to_prompt_stage():
    e, mig = _table(migrating=True)
    _, stay = _table(migrating=False)
    K = len(e) - 1
    np.testing.assert_allclose(mig.cost[0, K], stay.cost[0, K])  # one stage: the same work
    assert not np.allclose(mig.cost[0, 3, 1:], stay.cost[0, 3, 1:])
