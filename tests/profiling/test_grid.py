"""The profiler's grids: priorities, equal-token headline pairs, filtering to what the engine holds."""

from __future__ import annotations

import pytest

from l4bench.errors import ConfigError
from l4bench.profiling.grid import Composition, build_grid, fit_grid, full_grid, headline_pairs, smoke_grid


def test_headline_pairs_have_equal_batch_size_and_total_tokens():
    for uniform, mixed in headline_pairs():
        assert uniform.num_decodes == mixed.num_decodes
        assert uniform.decode_context_sum == mixed.decode_context_sum
        assert len(uniform.decode_groups) == 1 and len(mixed.decode_groups) == 2
        (short, _), (long, k) = mixed.decode_groups
        assert long > 8 * short and 1 <= k <= 8


def test_scaled_headline_pairs_keep_equal_totals():
    for uniform, mixed in headline_pairs(scale=4):
        assert uniform.num_decodes == mixed.num_decodes
        assert abs(uniform.decode_context_sum - mixed.decode_context_sum) < mixed.decode_groups[1][1]


def test_full_grid_order_names_and_coverage():
    comps = full_grid()
    names = [c.name for c in comps]
    assert len(names) == len(set(names))
    assert comps[0].group == "headline_uniform" and comps[1].group == "headline_mixed"
    groups = {c.group for c in comps}
    assert groups == {"headline_uniform", "headline_mixed", "uniform", "mixed", "chunk"}
    sizes = {c.num_decodes for c in comps if c.group == "uniform"}
    assert {1, 256} <= sizes
    assert max(c.max_context for c in comps) >= 120_000
    assert {c.chunk_tokens for c in comps if c.group == "chunk"} == {512, 2048, 7680}


def test_fit_grid_drops_what_the_engine_cannot_hold():
    comps = full_grid()
    kept = fit_grid(comps, kv_capacity_tokens=450_000, max_model_len=131_072, max_num_batched_tokens=8192)
    assert 0 < len(kept) < len(comps)
    assert all(c.kv_tokens <= 0.8 * 450_000 for c in kept)
    assert all(c.max_context <= 131_072 - 512 for c in kept)
    small = fit_grid(comps, kv_capacity_tokens=40_000, max_model_len=32_768, max_num_batched_tokens=2048)
    assert all(c.kv_tokens <= 32_000 and c.chunk_tokens + c.num_decodes <= 2048 for c in small)


def test_build_grid_names_and_limits():
    smoke = build_grid("smoke", 1_000_000, 65_536, 8192)
    assert [c.name for c in smoke] == [c.name for c in smoke_grid()]
    assert len(build_grid("full", 450_000, 131_072, 8192, max_compositions=5)) == 5
    with pytest.raises(ConfigError, match="valid: full, smoke"):
        build_grid("huge", 1, 1, 1)


def test_composition_properties():
    comp = Composition("x", "chunk", ((1024, 3), (4096, 1)), chunk_tokens=512, chunk_prior_tokens=2048)
    assert comp.num_decodes == 4
    assert comp.decode_context_sum == 3 * 1024 + 4096
    assert comp.max_context == 4096
    assert comp.kv_tokens == 3 * 1024 + 4096 + 2048 + 512
