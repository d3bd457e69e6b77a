"""L4's hop cost follows the migration model; the stall fit recovers known cost models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from l4_helpers import KV_CAPACITY, LinearPerfModel, cluster

from l4bench.errors import ConfigError
from l4bench.l4 import L4Scheduler
from l4bench.l4.cost import CostParams, Objective, fit_affine, stage_cost_table
from l4bench.l4.histogram import bin_stats, make_bin_edges
from l4bench.l4.migration import KvTransferMigration, RecomputeMigration, fit_stall, kv_bytes_per_token

LLAMA_8B = {"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_size": 4096,
            "head_dim": 128, "torch_dtype": "bfloat16"}


def _l4(migration=None, **kw):
    return L4Scheduler(cluster(4), LinearPerfModel(), np.random.default_rng(0), migration=migration, **kw)


def test_kv_bytes_per_token_of_llama_8b():
    assert kv_bytes_per_token(LLAMA_8B) == 2 * 32 * 8 * 128 * 2 == 131072
    assert kv_bytes_per_token(LLAMA_8B, kv_cache_dtype="fp8_e4m3") == 65536
    assert kv_bytes_per_token({**LLAMA_8B, "head_dim": None, "num_key_value_heads": None}) == 2 * 32 * 32 * 128 * 2


def test_fit_recovers_linear_and_quadratic_models_and_reports_error():
    rng = np.random.default_rng(1)
    L = np.repeat([1024, 4096, 16384, 32768, 65536], 3).astype(float)
    kv = (0.05 + 3e-4 * L) * rng.normal(1.0, 0.01, L.size)
    fit = fit_stall(L, kv)
    assert fit.fixed_s == pytest.approx(0.05, rel=0.1) and fit.per_token_s == pytest.approx(3e-4, rel=0.02)
    assert fit.per_token_pair_s == 0.0 and 0 < fit.mean_rel_error < 0.03 and fit.num_points == 15
    assert fit.bandwidth_bytes_per_s(131072) == pytest.approx(131072 / fit.per_token_s)
    rec = 0.015 + 2e-5 * L + 5e-10 * L * L
    q = fit_stall(L, rec, quadratic=True)
    assert q.per_token_pair_s == pytest.approx(5e-10, rel=1e-3) and q.max_rel_error < 1e-6
    assert fit_stall(L, rec).max_rel_error > 0.05  # a line cannot follow the quadratic recompute
    with pytest.raises(ConfigError):
        fit_stall([1024], [0.1])


def test_default_and_explicit_recompute_price_hops_the_same():
    a, b = _l4(), _l4(RecomputeMigration())
    assert a.cost_params == b.cost_params and a.hop_recompute == b.hop_recompute == 1.0


def test_kv_transfer_makes_hops_cheap_for_l4():
    kv = KvTransferMigration(fixed_s=1e-4, bandwidth_bytes_per_s=1e12, kv_bytes_per_token=131072)
    rec, cheap = _l4(hop_payback=1.0), _l4(kv, hop_payback=1.0)
    assert cheap.hop_recompute == 0.0
    assert cheap.cost_params.hop_stall_fixed_s == 1e-4
    assert cheap.cost_params.hop_stall_per_token_s == pytest.approx(131072 / 1e12)
    bound = rec.upper_bound_tokens(0)
    assert bound is not None
    # 100 tokens past the bound: recomputing `bound` tokens does not pay back, a cheap KV hop does
    assert rec._hop_bound(0, bound + 100) is None
    assert cheap._hop_bound(0, bound + 100) == bound
    # a KV hop as slow as the measured shared-H200 one (0.36 GB/s) does not pay back either
    slow = _l4(KvTransferMigration(fixed_s=0.0567, bandwidth_bytes_per_s=3.77e8, kv_bytes_per_token=131072))
    assert slow._hop_bound(0, bound + 100) is None


def test_cost_table_charges_the_hop_stall_only_when_there_is_one():
    e = make_bin_edges(8, 64, 32768)
    rng = np.random.default_rng(0)
    prompts = np.concatenate([rng.integers(64, 512, 400), rng.integers(8000, 30000, 20)])
    st = bin_stats(e, prompts, rng.integers(2000, 9000, len(prompts)), window_s=20.0)
    step = fit_affine(LinearPerfModel(), 32768, 256, 8192, KV_CAPACITY)
    base = CostParams(Objective.MEAN_E2E, 0.95, KV_CAPACITY, 256, 8192, 1.0, True, 5.0, 0.1)
    zero = stage_cost_table(st, e, 4, step, base)
    same = stage_cost_table(st, e, 4, step, dataclasses.replace(base, hop_stall_fixed_s=0.0))
    assert np.array_equal(zero.cost, same.cost)
    stalled = stage_cost_table(st, e, 4, step, dataclasses.replace(base, hop_stall_fixed_s=1.0))
    fin = np.isfinite(zero.cost) & np.isfinite(stalled.cost)
    assert np.all(stalled.cost[fin] >= zero.cost[fin]) and np.any(stalled.cost[fin] > zero.cost[fin])
    assert np.array_equal(stalled.cost[:1, :, :], zero.cost[:1, :, :])  # stages starting at 0 take no hop-ins
