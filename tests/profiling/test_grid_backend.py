"""The per-backend grid: every mixed row has an equal-size, equal-token twin; orders; cache fit."""

from __future__ import annotations

from l4bench.profiling.grid import build_grid
from l4bench.profiling.grid_backend import backend_grid, backend_smoke_grid, prompt_union_tokens
from l4bench.profiling.shape import ScheduledSeq, longest_decode_position


def test_mixed_rows_have_a_homogeneous_twin_with_equal_batch_and_tokens():
    for grid in (backend_grid(), backend_smoke_grid()):
        by_name = {c.name: c for c in grid}
        assert len(by_name) == len(grid)
        twins = [c for c in grid if c.homogeneous]
        assert len(twins) >= 4
        for comp in twins:
            twin = by_name[comp.homogeneous]
            assert twin.num_decodes == comp.num_decodes and len(twin.decode_groups) == 1
            assert 0 <= twin.decode_context_sum - comp.decode_context_sum < comp.num_decodes
            assert twin.chunk_tokens == comp.chunk_tokens and twin.chunk_prior_tokens == comp.chunk_prior_tokens


def test_backend_grid_covers_the_premise_shapes():
    grid = backend_grid()
    names = {c.name for c in grid}
    assert {"headline_uniform_n64_c2048", "headline_mixed_n63x1024_k1x66560", "mixed_n63x1024_k1x66560_lfirst",
            "split_n63_c1024", "split_n1_c66560", "chunk_n63x1024_k1x66560_C2048_p0"} <= names
    first = [c for c in grid if c.is_long_first]
    assert first and all(c.decode_groups[0][0] > c.decode_groups[-1][0] for c in first)
    assert not any(c.is_long_first for c in grid if c.group == "headline_mixed")
    assert {c.group for c in grid} == {"headline_uniform", "headline_mixed", "mixed", "split", "uniform", "chunk"}
    headline_sizes = [c.num_decodes for c in grid if c.group == "headline_mixed"]
    assert len(headline_sizes) == len(set(headline_sizes))  # fit.py pairs headline rows by batch size
    priorities = [c.priority for c in grid]
    assert priorities == sorted(priorities) and set(priorities) == {1, 2, 3}


def test_backend_grid_fits_an_h200_and_its_prefix_cache():
    grid = backend_grid()
    kept = build_grid("backend", 850_000, 131_072, 8192)
    assert [c.name for c in kept] == [c.name for c in grid]
    assert prompt_union_tokens(grid) < 0.8 * 850_000
    assert all(c.priority == 1 for c in build_grid("backend", 850_000, 131_072, 8192, max_priority=1))
    assert len(build_grid("backend", 850_000, 131_072, 8192, max_compositions=3)) == 3


def test_prompt_union_counts_slots_once():
    from l4bench.profiling.grid import Composition

    a = Composition("a", "uniform", ((1000, 4),))
    b = Composition("b", "uniform", ((2000, 2),))
    c = Composition("c", "mixed", ((500, 3), (20_000, 1)))
    assert prompt_union_tokens([a, b, c]) == 2 * 2000 + 2 * 1000 + 20_000


def test_longest_decode_position():
    seqs = [ScheduledSeq(100, 1, 50), ScheduledSeq(5000, 1, 10), ScheduledSeq(200, 1, 100), ScheduledSeq(0, 64, 64)]
    assert longest_decode_position(seqs) == 0.5  # the chunk (not decoding) does not count
    assert longest_decode_position(seqs[:1]) != longest_decode_position(seqs[:1])  # nan for one decode
    equal = [ScheduledSeq(1000 + i, 1, 10) for i in range(4)]
    assert longest_decode_position(equal) != longest_decode_position(equal)  # nan without a long one
